/**
 * The pages a person sees after consent: self-contained HTML (no asset from another host,
 * no script), with a language, a title and one top heading. They name the provider and the
 * account, say what to do next, and never show a secret. Colours meet WCAG AA contrast
 * (checked by a test) in light and dark mode.
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

export type Tone = "success" | "warning" | "error";

/** Page colours; every text colour is used on its scheme's card background. */
export const PALETTE = {
  light: {
    page: "#eef1f5",
    card: "#ffffff",
    text: "#1b1f24",
    muted: "#4a5360",
    accent: { success: "#0a6b2f", warning: "#7a4b00", error: "#a4161a" },
  },
  dark: {
    page: "#0d1117",
    card: "#161b22",
    text: "#e6edf3",
    muted: "#aeb8c4",
    accent: { success: "#56d37c", warning: "#f2c14e", error: "#ff8f8f" },
  },
} as const;

const ICON: Record<Tone, string> = {
  // Decorative only (aria-hidden): the heading says the same in words.
  success: `<path d="M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z"/>`,
  warning: `<path d="M1 21h22L12 2 1 21zm12-3h-2v-2h2v2zm0-4h-2v-4h2v4z"/>`,
  error: `<path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-2h2v2zm0-4h-2V7h2v6z"/>`,
};

export interface PageOptions {
  title: string;
  heading: string;
  paragraphs: string[];
  tone: Tone;
  /** Labelled facts shown under the text, e.g. Provider / Account. */
  facts?: Array<[label: string, value: string]>;
  /** What the person should do now, as short steps. */
  next?: string[];
  /**
   * Forms (sign-in, the connect page's Continue and Cancel): raw HTML, built by the caller with
   * escapeHtml around every value. Shown after the facts. A page with forms sends its referrer to
   * its own origin only (same-origin), so its posts carry an Origin header the server can check
   * (with no-referrer, Chromium sends `Origin: null`).
   */
  forms?: string;
}

/** The page's only style: light and dark colours from PALETTE, the accent by tone. */
function styleBlock(tone: Tone): string {
  const { light, dark } = PALETTE;
  return `<style>
      :root { color-scheme: light dark; --page: ${light.page}; --card: ${light.card}; --text: ${light.text}; --muted: ${light.muted}; --accent: ${light.accent[tone]}; }
      @media (prefers-color-scheme: dark) {
        :root { --page: ${dark.page}; --card: ${dark.card}; --text: ${dark.text}; --muted: ${dark.muted}; --accent: ${dark.accent[tone]}; }
      }
      * { box-sizing: border-box; }
      body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; background: var(--page); color: var(--text); }
      main { max-width: 36rem; margin: 10vh auto; padding: 2rem 2.25rem; background: var(--card); border-radius: 12px; border-top: 6px solid var(--accent); box-shadow: 0 1px 3px rgba(0,0,0,.15); }
      .status { display: flex; align-items: center; gap: .6rem; margin: 0 0 1rem; }
      .status svg { flex: none; width: 2rem; height: 2rem; fill: var(--accent); }
      h1 { font-size: 1.5rem; line-height: 1.3; margin: 0; color: var(--text); }
      h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
      p, li { font-size: 1.05rem; line-height: 1.55; margin: .5rem 0; }
      ul { padding-left: 1.25rem; margin: .25rem 0; }
      dl { display: grid; gap: .35rem; margin: 1.25rem 0 0; padding: .9rem 1rem; border: 1px solid var(--muted); border-radius: 8px; }
      dl div { display: flex; gap: .75rem; flex-wrap: wrap; }
      dt { min-width: 6.5rem; color: var(--muted); }
      dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
      form { margin: 1.25rem 0 0; display: grid; gap: .75rem; }
      form.inline { display: inline-flex; margin-right: .5rem; }
      label { font-weight: 600; display: grid; gap: .3rem; }
      fieldset { border: 1px solid var(--muted); border-radius: 8px; padding: .75rem 1rem; display: grid; gap: .5rem; }
      fieldset label { font-weight: 400; display: flex; gap: .5rem; align-items: center; }
      input[type=email], input[type=password] { font: inherit; padding: .55rem .65rem; border: 1px solid var(--muted); border-radius: 6px; background: var(--card); color: var(--text); }
      button { font: inherit; font-weight: 600; padding: .6rem 1.1rem; border-radius: 6px; border: 2px solid var(--text); background: var(--text); color: var(--card); cursor: pointer; justify-self: start; }
      button.secondary { background: transparent; color: var(--text); }
      :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
      footer { margin-top: 1.75rem; font-size: .9rem; color: var(--muted); }
      @media (max-width: 40rem) { main { margin: 0; border-radius: 0; min-height: 100vh; padding: 1.5rem 1.25rem; } }
    </style>`;
}

/** Inner parts of a page: the facts list and the "what to do next" steps, when given. */
function extras(opts: PageOptions): { facts: string; next: string } {
  const facts = opts.facts?.length
    ? `<dl>
        ${opts.facts.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join("\n        ")}
      </dl>`
    : "";
  const next = opts.next?.length
    ? `<section aria-labelledby="next">
        <h2 id="next">What to do next</h2>
        <ul>
          ${opts.next.map((n) => `<li>${escapeHtml(n)}</li>`).join("\n          ")}
        </ul>
      </section>`
    : "";
  return { facts, next };
}

export function renderPage(opts: PageOptions): string {
  const body = opts.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join("\n      ");
  const { facts, next } = extras(opts);
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="${opts.forms ? "same-origin" : "no-referrer"}">
    <meta name="color-scheme" content="light dark">
    <title>${escapeHtml(opts.title)} · tenex-connectors</title>
    ${styleBlock(opts.tone)}
  </head>
  <body>
    <main>
      <div class="status">
        <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">${ICON[opts.tone]}</svg>
        <h1>${escapeHtml(opts.heading)}</h1>
      </div>
      ${body}
      ${facts}
      ${opts.forms ?? ""}
      ${next}
      <footer>tenex-connectors, running on your machine or your team's server. No password or token is shown on this page.</footer>
    </main>
  </body>
</html>
`;
}
