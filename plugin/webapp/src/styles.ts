// All styling of the plugin, injected once into the page. Colours come only from Mattermost's
// theme variables (so light, dark and custom themes all apply); a literal colour may appear
// only as the fallback inside var(), for pages without a Mattermost theme. test/theme.test.ts
// enforces that rule.
const fg = 'var(--center-channel-color, #3f4350)';
const bg = 'var(--center-channel-bg, #ffffff)';
const fgA = (a: number) => `rgba(var(--center-channel-color-rgb, 63, 67, 80), ${a})`;
const ok = 'var(--online-indicator, #06d6a0)';
const err = 'var(--error-text, #d24b4e)';
const warn = 'var(--away-indicator, #ffbc1f)';
const accent = 'var(--button-bg, #1c58d9)';
const accentFg = 'var(--button-color, #ffffff)';
const link = 'var(--link-color, #386fe5)';

export const CSS = `
.ls-box {
  font-family: SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 12px; line-height: 1.45; box-sizing: border-box; max-width: 100%;
  color: ${fg}; background: ${fgA(0.04)};
  border: 1px solid ${fgA(0.16)}; border-left: 3px solid ${fgA(0.32)};
  border-radius: 4px; padding: 6px 8px; margin: 4px 0;
}
.ls-box.ls-active { border-left-color: ${ok}; }
.ls-box.ls-error { border-left-color: ${err}; }
.ls-box.ls-interrupted { border-left-color: ${warn}; }
.ls-box.ls-nested { background: transparent; border: 0; padding: 0; margin: 2px 0 0; }
.ls-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 2px 8px; }
.ls-tag { font-weight: 700; }
.ls-tag-active { color: ${ok}; }
.ls-tag-done { color: ${fgA(0.64)}; }
.ls-tag-error { color: ${err}; }
.ls-tag-interrupted { color: ${warn}; }
.ls-agent { font-weight: 600; }
.ls-label, .ls-elapsed, .ls-tokens, .ls-model, .ls-muted { color: ${fgA(0.64)}; }
.ls-body { margin-top: 4px; }
.ls-scroll { max-height: 22em; overflow-y: auto; overscroll-behavior: contain; }
.ls-line { white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; }
.ls-line-err { color: ${err}; }
.ls-line-sub { color: ${link}; }
.ls-line-note { color: ${warn}; font-style: italic; }
.ls-mark { font-weight: 700; }
.ls-mark-ok { color: ${ok}; }
.ls-mark-err { color: ${err}; }
.ls-child { margin: 2px 0 2px 6px; padding-left: 10px; border-left: 2px solid ${fgA(0.16)}; }
.ls-toggle {
  background: none; border: 0; padding: 0 2px; margin: 0; cursor: pointer;
  color: inherit; font: inherit;
}
.ls-rhs { padding: 8px 12px; color: ${fg}; overflow-y: auto; height: 100%; box-sizing: border-box; }
.ls-section { margin: 12px 0 4px; font-size: 12px; font-weight: 600; text-transform: uppercase; color: ${fgA(0.64)}; }
.ls-entry { margin-bottom: 8px; }
.ls-link { color: ${link}; font-size: 12px; }
.ls-widget {
  position: fixed; z-index: 1000; width: 340px; max-width: calc(100vw - 16px);
  background: ${bg}; color: ${fg}; border: 1px solid ${fgA(0.16)}; border-radius: 8px;
  box-shadow: 0 4px 16px ${fgA(0.24)}; padding: 8px 10px; cursor: grab;
  user-select: none; touch-action: none; font-size: 12px;
}
.ls-widget.ls-dragging { cursor: grabbing; }
.ls-widget.ls-collapsed { width: auto; padding: 6px 10px; border-radius: 16px; display: flex; align-items: center; gap: 6px; }
.ls-widget-head { display: flex; align-items: center; gap: 8px; }
.ls-widget-head .ls-agent { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.ls-widget .ls-box { margin: 6px 0 0; cursor: pointer; }
.ls-count { background: ${accent}; color: ${accentFg}; border-radius: 8px; padding: 0 6px; font-weight: 700; }
.ls-dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; background: ${fgA(0.32)}; flex: none; }
.ls-dot.ls-pulse { background: ${ok}; animation: ls-pulse 1.6s ease-in-out infinite; }
@keyframes ls-pulse { 0%, 100% { opacity: 1; transform: scale(1); } 50% { opacity: 0.35; transform: scale(0.75); } }
@media (prefers-reduced-motion: reduce) { .ls-dot.ls-pulse { animation: none; } }
`;

const STYLE_ID = 'livestatus-style';

export function ensureStyles(doc: Document = document): void {
    if (doc.getElementById(STYLE_ID)) {
        return;
    }
    const el = doc.createElement('style');
    el.id = STYLE_ID;
    el.textContent = CSS;
    doc.head.appendChild(el);
}
