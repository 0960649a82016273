/**
 * The pages a person sees after consent: self-contained HTML (no asset from another host),
 * with a language, a title and one heading. They name the provider and the account and say
 * what to do next. They never show a secret.
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

export type Tone = "success" | "warning" | "error";

const ACCENT: Record<Tone, string> = { success: "#0a6b2f", warning: "#7a4b00", error: "#a4161a" };

export function renderPage(opts: { title: string; heading: string; paragraphs: string[]; tone: Tone }): string {
  const body = opts.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join("\n      ");
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>${escapeHtml(opts.title)}</title>
    <style>
      :root { color-scheme: light; }
      body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f6f7f9; color: #1b1f24; }
      main { max-width: 34rem; margin: 12vh auto; padding: 2rem 2.25rem; background: #fff; border-radius: 12px; border-top: 6px solid ${ACCENT[opts.tone]}; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
      h1 { font-size: 1.5rem; margin: 0 0 1rem; color: ${ACCENT[opts.tone]}; }
      p { font-size: 1.05rem; line-height: 1.5; margin: .5rem 0; }
      footer { margin-top: 1.5rem; font-size: .85rem; color: #4a5360; }
    </style>
  </head>
  <body>
    <main>
      <h1>${escapeHtml(opts.heading)}</h1>
      ${body}
      <footer>tenex-connectors</footer>
    </main>
  </body>
</html>
`;
}
