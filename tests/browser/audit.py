"""An accessibility audit run in the page: WCAG AA text contrast (4.5:1, 3:1 for large text)
of every visible text, and a label for every form control. Returns the problems found."""

AUDIT_JS = r"""
() => {
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return [0,0,0,0];
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = ([r,g,b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v/12.92 : Math.pow((v+0.055)/1.055, 2.4); };
    return 0.2126*f(r) + 0.7152*f(g) + 0.0722*f(b); };
  const over = (top, bottom) => { const a = top[3]; return [0,1,2].map(i => top[i]*a + bottom[i]*(1-a)).concat([1]); };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let result = [255,255,255,1];
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const problems = [];
  const visible = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none"; };
  for (const el of document.querySelectorAll("body *")) {
    if (!visible(el) || el.closest("[hidden], dialog:not([open]), :disabled, .visually-hidden")) continue;
    const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join("").trim();
    if (!text) continue;
    const style = getComputedStyle(el);
    const fg = over(parse(style.color), background(el));
    const bg = background(el);
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(style.fontSize); const bold = Number(style.fontWeight) >= 700;
    const needed = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    if (ratio < needed) problems.push(`contrast ${ratio.toFixed(2)} < ${needed}: "${text.slice(0, 40)}" `
      + `(${style.color} on ${getComputedStyle(el).backgroundColor})`);
  }
  for (const control of document.querySelectorAll("input:not([type=hidden]), select, textarea, button")) {
    if (!visible(control) || control.closest("[hidden]")) continue;
    const named = (control.labels && control.labels.length) || control.getAttribute("aria-label")
      || control.getAttribute("aria-labelledby")
      || (control.tagName === "BUTTON" && control.textContent.trim());
    if (!named) problems.push(`no label: <${control.tagName.toLowerCase()} name="${control.name || ""}">`);
  }
  const h1 = document.querySelectorAll("main h1").length;
  if (h1 !== 1) problems.push(`main has ${h1} h1 headings`);
  const width = document.documentElement.scrollWidth;
  if (width > window.innerWidth + 1) problems.push(`page scrolls sideways: ${width} px wide in ${window.innerWidth}`);
  return problems;
}
"""


def audit(page) -> list[str]:
    return page.evaluate(AUDIT_JS)
