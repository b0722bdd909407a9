// DOM helpers shared by the views. Text only ever goes in through textContent.

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

/** An inline SVG icon from path data (a constant of ours, never notification data). */
export function icon(pathData, className) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  if (className) svg.setAttribute("class", className);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", pathData);
  svg.append(path);
  return svg;
}

/**
 * Return schedule(): calls `fn` once on the next animation frame, however
 * often it is called before then. A timer backs the frame up, because
 * browsers pause animation frames in background tabs.
 */
export function frameScheduler(fn, fallbackMs = 250) {
  let pending = false;
  let frame = 0;
  let timer = 0;
  const run = () => {
    if (!pending) return;
    pending = false;
    cancelAnimationFrame(frame);
    clearTimeout(timer);
    fn();
  };
  return () => {
    if (pending) return;
    pending = true;
    frame = requestAnimationFrame(run);
    timer = setTimeout(run, fallbackMs);
  };
}
