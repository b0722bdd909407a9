// For every visible element under the selectors: inside the viewport horizontally?
// Does every button / action keep its label on one line?
(selectors) => {
  const width = document.documentElement.clientWidth;
  const outside = [];
  const wrapped = [];
  const name = (e) => e.tagName.toLowerCase() + (e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\s+/).join(".") : "")
    + (e.textContent ? ` "${e.textContent.trim().slice(0, 30)}"` : "");
  for (const selector of selectors) {
    for (const root of document.querySelectorAll(selector)) {
      for (const e of [root, ...root.querySelectorAll("*")]) {
        const r = e.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === "hidden") continue;
        if (e.closest(".ntf-sr")) continue;
        if (r.left < -0.5 || r.right > width + 0.5) outside.push(`${name(e)}: ${Math.round(r.left)}..${Math.round(r.right)} of ${width}`);
        if (e.matches("button, .ntf-action, .site-nav > a, .ntf-history-link, .ntf-all")) {
          // The lines its visible text occupies (screen-reader-only text aside).
          const tops = new Set();
          const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
          for (let t = walker.nextNode(); t; t = walker.nextNode()) {
            if (!t.textContent.trim() || t.parentElement.closest(".ntf-sr")) continue;
            const range = document.createRange();
            range.selectNodeContents(t);
            for (const q of range.getClientRects()) if (q.width > 0) tops.add(Math.round(q.top + q.height / 2));
          }
          if (tops.size > 1) wrapped.push(`${name(e)}: ${tops.size} lines`);
        }
      }
    }
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    width,
    outside,
    wrapped,
  };
}
