// Progress reporting on stderr: a live bar on a terminal, periodic plain lines otherwise, nothing when quiet.
import cliProgress from 'cli-progress';
import type { FitProgress } from '../train/fit.js';

export interface ProgressFields {
  [key: string]: string | number;
}

export interface Progress {
  /** Set the position (done units) and the fields shown beside the bar. */
  update(done: number, fields?: ProgressFields): void;
  /** Finish the bar (prints a final line when not a terminal). */
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Unit name for the rate ("img"). */
  unit?: string;
  /** Fields to show, in order, e.g. ['loss', 'acc', 'rate']. */
  fields?: string[];
  quiet?: boolean;
  /** Seconds between plain lines when stderr is not a terminal. */
  plainEvery?: number;
  stream?: NodeJS.WriteStream;
}

function fmtEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const pad = (v: number): string => String(v).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m % 60)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const fields = opts.fields ?? [];
  if (opts.quiet) return { update() {}, stop() {} };
  const start = Date.now();
  let startDone = -1;
  let last: ProgressFields = {};
  let lastDone = 0;
  const etaOf = (done: number): string => {
    if (startDone < 0) return '--:--';
    const elapsed = (Date.now() - start) / 1000;
    const rate = (done - startDone) / Math.max(elapsed, 1e-9);
    return fmtEta(rate > 0 ? (opts.total - done) / rate : NaN);
  };
  const fieldText = (f: ProgressFields): string => fields.filter((k) => f[k] !== undefined).map((k) => `${k} ${f[k]}`).join(' | ');

  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label} [{bar}] {percentage}% {value}/{total} | {fieldText} | ETA {etaText}`,
        barsize: 24,
        hideCursor: true,
        stream,
        fps: 8,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(opts.total, 0, { fieldText: '', etaText: '--:--' });
    let stopped = false;
    return {
      update(done, f = {}) {
        if (stopped) return;
        if (startDone < 0) startDone = done;
        last = { ...last, ...f };
        bar.update(done, { fieldText: fieldText(last), etaText: etaOf(done) });
      },
      stop() {
        if (stopped) return;
        stopped = true;
        bar.stop();
      },
    };
  }

  // Plain lines: the first update, then at most one per `plainEvery` seconds, and a last line on stop() unless the
  // line printed last already shows the final state (no duplicated "refit fc1 1/1").
  const every = (opts.plainEvery ?? 10) * 1000;
  let lastPrint = 0;
  let printedState = '';
  let stopped = false;
  const state = (done: number): string => `${done}|${fieldText(last)}`;
  const print = (done: number): void => {
    const pct = opts.total > 0 ? ((100 * done) / opts.total).toFixed(0) : '100';
    stream.write(`${opts.label} ${done}/${opts.total} (${pct}%) ${fieldText(last)} | ETA ${etaOf(done)}\n`);
    printedState = state(done);
  };
  return {
    update(done, f = {}) {
      if (stopped) return;
      if (startDone < 0) startDone = done;
      last = { ...last, ...f };
      lastDone = done;
      const now = Date.now();
      if (now - lastPrint >= every) {
        lastPrint = now;
        print(done);
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (printedState !== state(lastDone)) print(lastDone);
    },
  };
}

/** A fit() progress callback drawing one bar per epoch (loss, accuracy, images/s, learning rate). */
export function fitProgressBar(label: string, quiet: boolean): (p: FitProgress) => void {
  let bar: Progress | null = null;
  let barEpoch = -1;
  const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(4) : 'n/a');
  return (p) => {
    if (bar === null || barEpoch !== p.epoch) {
      bar?.stop();
      bar = createProgress({ label: `${label} epoch ${p.epoch + 1}/${p.epochs}`, total: p.batches, fields: ['loss', 'acc', 'img/s', 'lr'], quiet });
      barEpoch = p.epoch;
    }
    bar.update(p.batch, { loss: fmt(p.loss), acc: fmt(p.accuracy), 'img/s': Math.round(p.imagesPerSecond), lr: p.lr.toExponential(2) });
    if (p.done) {
      bar.stop();
      bar = null;
    }
  };
}
