// Injected into the demo page before its scripts run: notes when each status line's text is
// first in the DOM, per box, so the test can measure write-to-DOM latency inside the page.
// The MutationObserver callback runs right after React commits the change.
(() => {
    const seen = new Map();
    window.__lsSeen = seen;
    const scan = () => {
        const t = performance.timeOrigin + performance.now();
        for (const el of document.querySelectorAll('.ls-line')) {
            const box = el.closest('[data-box-id]');
            const key = `${box ? box.getAttribute('data-box-id') : ''}\n${el.textContent}`;
            if (!seen.has(key)) {
                seen.set(key, t);
            }
        }
    };
    new MutationObserver(scan).observe(document, {childList: true, subtree: true, characterData: true});
})();
