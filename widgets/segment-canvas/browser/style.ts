/**
 * The canvas's look: one style sheet, injected once per document. Every rule is scoped to a
 * `msam-` class, so nothing here can restyle JupyterLab around the widget. Pure data, so Node
 * tests can check it; dom.ts injects it.
 */

export const STYLE_ID = "medicosam-segment-canvas-style";

/** The classes dom.ts gives its elements (the title has none of its own rules). */
export const CLASS = {
  root: "msam-root",
  title: "msam-title",
  toolbar: "msam-toolbar",
  busy: "msam-busy",
  stage: "msam-stage",
  orient: "msam-orient",
  controls: "msam-controls",
  status: "msam-status",
  notice: "msam-notice",
  error: "msam-error",
  objects: "msam-objects",
  swatch: "msam-swatch",
  help: "msam-help",
  candidates: "msam-candidates",
  thumb: "msam-thumb",
  propagation: "msam-propagation",
  strip: "msam-strip",
} as const;

export const CSS = `
.msam-root { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222); background: var(--jp-layout-color1, transparent); border: 1px solid var(--jp-border-color1, #ccc); border-radius: 4px; padding: 6px; max-width: 800px; outline: none; position: relative; }
.msam-root:focus, .msam-root:focus-within { box-shadow: 0 0 0 3px #1a73e8; border-color: #1a73e8; }
.msam-toolbar, .msam-controls, .msam-status { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: center; margin: 2px 0; }
.msam-toolbar button { font: inherit; padding: 2px 6px; cursor: pointer; }
.msam-toolbar button[aria-pressed="true"] { background: #c62828; color: white; }
.msam-stage { position: relative; background: #111; width: 100%; height: 480px; overflow: hidden; user-select: none; }
.msam-stage canvas { position: absolute; left: 0; top: 0; cursor: crosshair; touch-action: none; }
.msam-orient { position: absolute; color: #ffd54f; font-weight: bold; pointer-events: none; text-shadow: 0 0 2px black; }
.msam-busy { display: inline-block; width: 12px; height: 12px; border: 2px solid #1a73e8; border-right-color: transparent; border-radius: 50%; animation: msam-spin 0.8s linear infinite; }
.msam-busy[hidden] { display: none; }
@keyframes msam-spin { to { transform: rotate(360deg); } }
.msam-error { background: #fdecea; color: #b71c1c; padding: 4px 6px; margin: 4px 0; border-radius: 3px; display: flex; justify-content: space-between; gap: 8px; }
.msam-error[hidden] { display: none; }
.msam-objects { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px; }
.msam-objects li { border: 1px solid #ccc; border-radius: 3px; padding: 1px 4px; display: flex; gap: 4px; align-items: center; }
.msam-swatch { width: 14px; height: 14px; display: inline-block; border: 1px solid #0004; padding: 0; cursor: pointer; }
.msam-objects li[aria-selected="true"] { border-color: #1a73e8; box-shadow: 0 0 0 1px #1a73e8; }
.msam-objects input[type=text], .msam-objects input[type=number] { font: inherit; padding: 0 2px; }
.msam-candidates { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.msam-candidates[hidden] { display: none; }
.msam-candidates button { font: inherit; display: flex; flex-direction: column; align-items: center; gap: 2px; padding: 2px; cursor: pointer; border: 2px solid transparent; background: none; }
.msam-candidates button[aria-pressed="true"] { border-color: #1a73e8; }
.msam-thumb { width: 72px; height: 72px; image-rendering: pixelated; }
.msam-propagation { margin: 4px 0; display: flex; flex-direction: column; gap: 2px; }
.msam-propagation[hidden] { display: none; }
.msam-propagation > div { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: center; }
.msam-propagation button { font: inherit; padding: 1px 6px; cursor: pointer; }
.msam-strip { display: flex; align-items: flex-end; gap: 1px; height: 34px; border-bottom: 1px solid #8888; overflow-x: auto; }
.msam-strip button { flex: 1 0 6px; max-width: 18px; min-width: 6px; height: 100%; padding: 0; border: none; border-top: 2px solid transparent; background: none; display: flex; align-items: flex-end; cursor: pointer; }
.msam-strip button[aria-current="true"] { border-top-color: #1a73e8; background: #1a73e822; }
.msam-strip button > span { display: block; width: 100%; min-height: 3px; }
.msam-strip [data-kind="written"] > span { background: #2e7d32; }
.msam-strip [data-kind="filled"] > span { background: #78909c; }
.msam-strip [data-kind="refused"] > span { background: #c62828; }
.msam-strip [data-kind="seed"] > span, .msam-strip [data-kind="restart"] > span { background: #1a73e8; }
.msam-strip [data-kind="none"] > span { background: #9e9e9e55; }
.msam-notice { color: #8a6d00; }
.msam-help { color: var(--jp-ui-font-color2, #666); font-size: 11px; }
.msam-controls input[type=range] { width: 120px; }
`;
