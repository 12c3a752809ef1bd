// The chart helpers render real SVG (points, lines, bars where the data put them) that Chromium draws, and HTML pages escape their text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barSpec, escapeHtml, htmlPage, lineSpec, renderSvg, scatterSpec } from './plot.js';
import { launch, noChromium, renderSvgInChromium } from '../../test/chromium.js';

const pts = [
  { x: 1, y: 90, series: 'a', label: 'p1' },
  { x: 10, y: 92, series: 'a', label: 'p2' },
  { x: 100, y: 93.5, series: 'b', label: 'p3' },
];

test('scatter with a front: one circle per point, the front as a path, axis titles, log x ticks', async () => {
  const svg = await renderSvg(scatterSpec(pts, { title: 'acc vs energy', xTitle: 'energy (nJ)', yTitle: 'accuracy (%)', xLog: true }, pts.slice(1)));
  assert.match(svg, /^<\?xml/);
  assert.match(svg, /<svg[^>]+width="\d+"/);
  assert.ok(svg.includes('energy (nJ)') && svg.includes('accuracy (%)') && svg.includes('acc vs energy'));
  // point marks are drawn as paths with role graphics-symbol in the mark group; 3 scatter + 2 line points
  const symbols = svg.match(/aria-roledescription="point"/g) ?? [];
  assert.equal(symbols.length, 5, svg.slice(0, 400));
  assert.match(svg, /aria-roledescription="line mark"/);
  assert.ok(svg.includes('>10<') && svg.includes('>100<'), 'log-axis ticks 10 and 100');
});

test('line and bar charts render their series', async () => {
  const line = await renderSvg(lineSpec(pts, { title: 't', xTitle: 'epoch', yTitle: 'loss' }));
  assert.equal((line.match(/aria-roledescription="line mark"/g) ?? []).length, 2, 'one line per series');
  const bars = await renderSvg(barSpec([{ category: 'conv2', series: 'LUT', value: 3 }, { category: 'conv2', series: 'MAC', value: 5 }, { category: 'fc1', series: 'LUT', value: 1 }], { title: 'b', xTitle: 'layer', yTitle: 'pJ' }));
  assert.equal((bars.match(/aria-roledescription="bar"/g) ?? []).length, 3);
});

test('htmlPage escapes text and inlines SVG without its XML declaration', () => {
  const page = htmlPage('a <b> & "c"', [{ heading: 'h<1>', text: 'x & y', svgs: ['<?xml version="1.0"?>\n<svg></svg>'], table: { head: ['k'], rows: [['<td>']] } }]);
  assert.ok(page.includes('<title>a &lt;b&gt; &amp; &quot;c&quot;</title>'));
  assert.ok(page.includes('<h2>h&lt;1&gt;</h2>') && page.includes('<td>&lt;td&gt;</td>'));
  assert.ok(page.includes('<figure><svg></svg></figure>'));
  assert.ok(!page.includes('<script'));
  assert.equal(escapeHtml(`'`), '&#39;');
});

test('Chromium draws the SVG: its size, inked pixels in more than one colour', { skip: noChromium }, async () => {
  const svg = await renderSvg(scatterSpec(pts, { title: 'acc vs energy', xTitle: 'energy', yTitle: 'accuracy' }, pts));
  const browser = await launch();
  try {
    const r = await renderSvgInChromium(browser, svg);
    assert.ok(r.width > 400 && r.height > 250, JSON.stringify(r));
    assert.ok(r.inked > 2000, `inked ${r.inked}`);
    assert.ok(r.colours >= 3, `colours ${r.colours}`);
    const blank = await renderSvgInChromium(browser, '<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50"></svg>');
    assert.equal(blank.inked, 0, 'an empty SVG draws nothing (the measure can fail)');
  } finally {
    await browser.close();
  }
});
