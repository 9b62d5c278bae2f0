/**
 * SVG -> PNG with resvg (a prebuilt WebAssembly-free native addon shipped in the npm package; nothing is
 * downloaded at install). Text needs fonts: system fonts are loaded (DejaVu Sans on Debian); without any, resvg
 * draws no text, so the caller also keeps the SVG.
 */
import { Resvg } from '@resvg/resvg-js';

export function svgToPng(svg: string, scale = 1.5): Buffer {
  const r = new Resvg(svg, {
    background: '#ffffff',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return r.render().asPng();
}
