// Headless Chromium for tests of pictures: open an SVG or HTML file, count its drawn pixels, take a screenshot.
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = process.env.LUTNN_CHROMIUM ?? '/usr/bin/chromium';
/** A skip reason for node:test when there is no Chromium, else false. */
export const noChromium: string | false = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set LUTNN_CHROMIUM)`;

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

export interface Rendered {
  /** Natural size of the SVG image (0 when Chromium could not decode it). */
  width: number;
  height: number;
  /** Pixels that are neither white nor transparent, after drawing the image on a white canvas. */
  inked: number;
  /** Distinct colours among the inked pixels (quantised to 4 bits per channel). */
  colours: number;
}

/** Opens an SVG document as an <img> in Chromium and measures what it draws. */
export async function renderSvgInChromium(browser: Browser, svg: string): Promise<Rendered> {
  const page = await browser.newPage();
  try {
    await page.setContent('<!doctype html><meta charset="utf-8"><body style="margin:0"></body>');
    return await page.evaluate(async (text: string) => {
      const img = new Image();
      const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
      await new Promise<void>((res) => {
        img.onload = () => res();
        img.onerror = () => res();
        img.src = url;
      });
      const width = img.naturalWidth;
      const height = img.naturalHeight;
      if (!width || !height) return { width: 0, height: 0, inked: 0, colours: 0 };
      const c = document.createElement('canvas');
      c.width = width;
      c.height = height;
      const ctx = c.getContext('2d')!;
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, width, height);
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, width, height).data;
      let inked = 0;
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) {
          inked++;
          seen.add(((d[i] >> 4) << 8) | ((d[i + 1] >> 4) << 4) | (d[i + 2] >> 4));
        }
      }
      return { width, height, inked, colours: seen.size };
    }, svg);
  } finally {
    await page.close();
  }
}

/** Opens an HTML file in Chromium, screenshots the full page to `png`, and returns the page's figure count and errors. */
export async function screenshotHtml(browser: Browser, file: string, png: string): Promise<{ svgs: number; errors: string[]; height: number }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  try {
    await page.goto(`file://${file}`);
    const svgs = await page.locator('svg').count();
    const height = await page.evaluate(() => document.body.scrollHeight);
    await page.screenshot({ path: png, fullPage: true });
    return { svgs, errors, height };
  } finally {
    await page.close();
  }
}
