// LUT-NA energy and area report: digital MACs, T-LUT, LUT-NA and A-LUT-NA designs per MAC and on graph models, beside LUT-NA's published ratios.
// Usage: node --import tsx bench/lutna-cost.ts [--json] [--models models/fmnist-cnn.safetensors,models/resnet-fm.safetensors]
//          [--units N] [--batch B] [--tech FILE]
// Pure arithmetic (src/hw/mac-cost.ts, mac-layers.ts) on the models' layer shapes; float layers are priced as int8 x
// int9 MACs (quantized files bring their own widths). --json fields: benchmark ("lutna-cost"), tech, units, batch,
// designs [{ id, name, kind, style, storage, approximate, cyclesPerMac, tableBits, multiplierEnergyPJ,
// multiplierAreaUm2, macEnergyPJ, macAreaUm2 }] (8x9 MAC, weight reuse 784), paper (LUT-NA's ratios),
// models [{ model, macs, skipped, rows [{ id, energyUJ, areaMm2, vsTLut { energy, area }, vsWallace, vsArray }],
// layers (per-layer energy of the headline designs) }].
import { loadModel } from '../src/io/model-file.js';
import { macLayersOf } from '../src/app/mac-layers.js';
import { macCost, type MacDesign } from '../src/hw/mac-cost.js';
import { macReport, macSavings, type MacModelReport } from '../src/hw/mac-layers.js';
import { TECH_45NM, type TechTable } from '../src/hw/tech.js';
import { readTechFile } from '../src/hw/tech-file.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const json = args.includes('--json');
const modelFiles = (flag('--models') ?? 'models/fmnist-cnn.safetensors,models/resnet-fm.safetensors').split(',');
const units = Number(flag('--units') ?? 1);
const batch = Number(flag('--batch') ?? 1);
const techFile = flag('--tech');
const tech: TechTable = techFile ? readTechFile(techFile) : TECH_45NM;

/** The designs compared (ids are short names for the tables). */
const DESIGNS: { id: string; design: MacDesign }[] = [
  { id: 'array', design: { kind: 'digital', multiplier: 'array' } },
  { id: 'wallace', design: { kind: 'digital', multiplier: 'wallace' } },
  { id: 'T-LUT', design: { kind: 'lut' } },
  { id: 'LUT-NA 4+4x5+4', design: { kind: 'lut', multiplier: { partsA: [4, 4], partsW: [5, 4] } } },
  { id: 'LUT-NA 4+4x5+4 SRAM', design: { kind: 'lut', multiplier: { partsA: [4, 4], partsW: [5, 4] }, storage: 'sram' } },
  { id: 'LUT-NA 4+4x4+5 mag serial', design: { kind: 'lut', multiplier: { partsA: [4, 4], partsW: [4, 5], sign: 'magnitude' }, style: 'serial' } },
  { id: 'LUT-NA 3+3+2x3+3+3', design: { kind: 'lut', multiplier: { partsA: [3, 3, 2], partsW: [3, 3, 3] } } },
  { id: 'LUT-NA 2+2+2+2x3+2+2+2', design: { kind: 'lut', multiplier: { partsA: [2, 2, 2, 2], partsW: [3, 2, 2, 2] } } },
  { id: 'A-LUT-NA 4+4x5+4 drop lo*lo', design: { kind: 'lut', multiplier: { partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] } } },
  { id: 'A-LUT-NA 4+4x5+4 trunc<2^4', design: { kind: 'lut', multiplier: { partsA: [4, 4], partsW: [5, 4], truncate: [{ belowBit: 4 }] } } },
  { id: 'T-LUT-ws', design: { kind: 'lut-ws' } },
  { id: 'LUT-NA-ws 4+4', design: { kind: 'lut-ws', partsA: [4, 4] } },
  { id: 'LUT-NA-ws 2+2+2+2', design: { kind: 'lut-ws', partsA: [2, 2, 2, 2] } },
];

const PAPER = {
  source: 'LUT-NA (Sen et al., arXiv 2406.05282), as summarised in LUT-NOTES.md',
  lutnaVsTLut: { area: 29.54, energy: 3.34 },
  lutnaVsDigitalMac: { area: 1.23, energy: 1.8 },
  alutnaVsDigitalMac: { area: 2.64, energy: 4.38 },
  mixedVsDigitalMac: { area: [1.35, 2.14], energy: [1.99, 3.38] },
};

const perMac = DESIGNS.map(({ id, design }) => {
  const c = macCost(design, tech, { bitsA: 8, bitsW: 9, weightReuse: 784 });
  return {
    id, name: c.name, kind: c.kind, style: c.style, storage: c.storage, approximate: c.approximate, cyclesPerMac: c.cyclesPerMac, tableBits: c.tableBits,
    multiplierEnergyPJ: c.multiplier.energyPJ, multiplierAreaUm2: c.multiplier.areaUm2, macEnergyPJ: c.energyPJ, macAreaUm2: c.areaUm2,
  };
});

const models = modelFiles.map((file) => {
  const { model } = loadModel(file);
  const { layers, skipped } = macLayersOf(model.info, new Map(model.namedWeights()));
  const reports = new Map<string, MacModelReport>(DESIGNS.map(({ id, design }) => [id, macReport(layers, design, tech, { units, batch })]));
  const tl = reports.get('T-LUT')!;
  const wal = reports.get('wallace')!;
  const arr = reports.get('array')!;
  const rows = DESIGNS.map(({ id }) => {
    const r = reports.get(id)!;
    return { id, energyUJ: r.energyPJ / 1e6, areaMm2: r.areaUm2 / 1e6, vsTLut: macSavings(r, tl), vsWallace: macSavings(r, wal), vsArray: macSavings(r, arr) };
  });
  const headline = ['wallace', 'T-LUT', 'LUT-NA 4+4x5+4', 'LUT-NA-ws 4+4'];
  const perLayer = layers.map((l, i) => ({
    name: l.name, macs: l.macs, rows: l.rows,
    energyUJ: Object.fromEntries(headline.map((id) => [id, reports.get(id)!.layers[i].energyPJ / 1e6])),
  }));
  return { model: file, macs: tl.macs, skipped, rows, layers: perLayer };
});

const fmt = (x: number, d = 3): string => (x >= 1000 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toPrecision(d));
if (json) {
  process.stdout.write(JSON.stringify({ benchmark: 'lutna-cost', tech: tech.name, units, batch, designs: perMac, paper: PAPER, models }, null, 2) + '\n');
} else {
  const out: string[] = [];
  out.push(`Per MAC, int8 x int9 operands, 32-bit accumulator (tech ${tech.name}; weight-stationary designs at weight reuse 784)`);
  out.push('');
  out.push('| design | multiplier pJ | multiplier um2 | MAC pJ | MAC um2 | cycles | table bits |');
  out.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const d of perMac) out.push(`| ${d.id} | ${fmt(d.multiplierEnergyPJ)} | ${fmt(d.multiplierAreaUm2)} | ${fmt(d.macEnergyPJ)} | ${fmt(d.macAreaUm2)} | ${d.cyclesPerMac} | ${d.tableBits} |`);
  for (const m of models) {
    out.push('');
    out.push(`${m.model}: ${m.macs.toLocaleString('en-US')} MACs per image; ${units} MAC unit(s) per design, batch ${batch}${m.skipped.length ? `; skipped ${m.skipped.map((s) => s.name).join(', ')}` : ''}`);
    out.push('');
    out.push('| design | energy/inference uJ | area mm2 | less energy than T-LUT | less area than T-LUT | less energy than Wallace | less area than Wallace | less energy than array | less area than array |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of m.rows) out.push(`| ${r.id} | ${fmt(r.energyUJ)} | ${fmt(r.areaMm2, 4)} | ${fmt(r.vsTLut.energy)}x | ${fmt(r.vsTLut.area)}x | ${fmt(r.vsWallace.energy)}x | ${fmt(r.vsWallace.area)}x | ${fmt(r.vsArray.energy)}x | ${fmt(r.vsArray.area)}x |`);
    const ids = Object.keys(m.layers[0]?.energyUJ ?? {});
    out.push('');
    out.push('Per layer, uJ per inference:');
    out.push('');
    out.push(`| layer | MACs | weight reuse | ${ids.join(' | ')} |`);
    out.push(`|---|---:|---:|${ids.map(() => '---:').join('|')}|`);
    for (const l of m.layers) out.push(`| ${l.name} | ${l.macs.toLocaleString('en-US')} | ${l.rows} | ${ids.map((id) => fmt(l.energyUJ[id])).join(' | ')} |`);
  }
  out.push('');
  out.push(`LUT-NA's figures: vs T-LUT ${PAPER.lutnaVsTLut.area}x less area, ${PAPER.lutnaVsTLut.energy}x less energy; vs digital MAC ${PAPER.lutnaVsDigitalMac.area}x area, ${PAPER.lutnaVsDigitalMac.energy}x energy; A-LUT-NA vs digital ${PAPER.alutnaVsDigitalMac.area}x area, ${PAPER.alutnaVsDigitalMac.energy}x energy.`);
  process.stdout.write(out.join('\n') + '\n');
}
