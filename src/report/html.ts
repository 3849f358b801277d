/** A self-contained HTML page (inline CSS, no scripts or external assets) and small table helper. */
import { escapeXml } from './svg.ts';

export const escapeHtml = escapeXml;

export interface ReportSection {
  heading: string;
  /** Trusted HTML (charts from chartSvg, tables from htmlTable). */
  html: string;
  /** Plain-text note shown under the heading. */
  note?: string;
}

export function htmlTable(header: string[], rows: (string | number)[][]): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export function htmlPage(title: string, sections: ReportSection[], subtitle?: string): string {
  const css =
    'body{font-family:sans-serif;max-width:980px;margin:24px auto;color:#222}' +
    'table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}' +
    'th{background:#f4f4f4}h2{margin-top:28px;border-bottom:1px solid #ddd}.note{color:#555;font-size:13px}';
  const secs = sections
    .map(
      (s) =>
        `<section><h2>${escapeHtml(s.heading)}</h2>${s.note ? `<p class="note">${escapeHtml(s.note)}</p>` : ''}\n${s.html}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${css}</style></head>
<body><h1>${escapeHtml(title)}</h1>${subtitle ? `<p class="note">${escapeHtml(subtitle)}</p>` : ''}
${secs}
</body></html>
`;
}
