"""The lesson page's own JavaScript: it draws the precomputed grids on canvases and looks paths up; it runs no
optimizer (every path comes from :mod:`optimlab.compare.playground`). Kept as one constant the page inlines."""

LESSON_JS = r"""
const L = JSON.parse(document.getElementById('lesson-data').textContent);
const T = L.words, FONT = '12px system-ui, "Noto Sans CJK KR", "Noto Sans KR", sans-serif';
function bytes(s) { const b = atob(s), a = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) a[i] = b.charCodeAt(i); return a; }
for (const sd of Object.values(L.surfaces)) {
  sd.gridBytes = bytes(sd.grid);
  for (const se of Object.values(sd.series)) {
    se.q = new Uint16Array(bytes(se.xy).buffer); se.c = new Uint16Array(bytes(se.cv).buffer);
    se.index = new Map(se.settings.map((st, i) => [st.join('|'), i]));
    se.lrs = Array.from(new Set(se.settings.map(st => st[0]))).sort((a, b) => a - b);
  }
}
const state = L.sections.map(sec => ({start: 0, set: Object.fromEntries(sec.series.map(n => {
  const se = L.surfaces[sec.surface].series[n], st = se.settings[se.tuned];
  return [n, {lr: sec.lr ? nearest(se.lrs, sec.lr) : st[0], knobs: st.slice(1)}];
}))}));
const drawn = L.sections.map(() => ({}));
window.lesson = {state, drawn, redraw: i => draw(i)};
function fmt(v) {
  return v === 0 ? '0' : (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? String(+v.toPrecision(3)) : v.toExponential(0)); }
function combo(se, lr, knobs) { return se.index.get([lr, ...knobs].join('|')); }
function available(se, knobs) { return se.lrs.filter(lr => combo(se, lr, knobs) !== undefined); }
function nearest(list, v) {
  return list.reduce((b, x) => Math.abs(Math.log(x / v)) < Math.abs(Math.log(b / v)) ? x : b); }
function path(sd, se, c, s) {
  const T1 = sd.steps + 1, base = (c * sd.starts.length + s) * T1, [x0, x1, y0, y1] = sd.domain;
  const w = x1 - x0, h = y1 - y0, xs = [], ys = [], cv = [], sl = [];
  for (let t = 0; t < T1; t++) {
    const qx = se.q[2 * (base + t)], qy = se.q[2 * (base + t) + 1];
    if (qx === 65535) break;
    xs.push(x0 - w + qx / 65534 * 3 * w); ys.push(y0 - h + qy / 65534 * 3 * h);
    const a = se.c[2 * (base + t)], b = se.c[2 * (base + t) + 1];
    cv.push(a === 65535 ? null : sd.curve.lo + a / 65534 * (sd.curve.hi - sd.curve.lo));
    sl.push(b === 65535 ? null : sd.steplen.lo + b / 65534 * (sd.steplen.hi - sd.steplen.lo));
  }
  return {xs, ys, cv, sl, div: se.div[c * sd.starts.length + s]};
}
function background(sd, w, h) {
  if (sd.bg && sd.bg.width === w) return sd.bg;
  const n = sd.n, g = sd.gridBytes, img = new ImageData(w, h), bands = 22, lv = new Float32Array(w * h);
  for (let py = 0; py < h; py++) for (let px = 0; px < w; px++) {
    const fx = px / (w - 1) * (n - 1), fy = (1 - py / (h - 1)) * (n - 1), i0 = Math.floor(fx), j0 = Math.floor(fy);
    const i1 = Math.min(i0 + 1, n - 1), j1 = Math.min(j0 + 1, n - 1), ax = fx - i0, ay = fy - j0;
    const v = (1 - ay) * ((1 - ax) * g[j0 * n + i0] + ax * g[j0 * n + i1])
      + ay * ((1 - ax) * g[j1 * n + i0] + ax * g[j1 * n + i1]);
    lv[py * w + px] = Math.min(bands - 1, Math.floor(v / 255 * bands));
  }
  for (let p = 0; p < w * h; p++) {
    const k = lv[p], edge = (p % w + 1 < w && lv[p + 1] !== k) || (p + w < w * h && lv[p + w] !== k);
    const c = 250 - Math.round(k * 3.4) - (edge ? 70 : 0);
    img.data[4 * p] = c; img.data[4 * p + 1] = c; img.data[4 * p + 2] = c + 3; img.data[4 * p + 3] = 255;
  }
  const c = document.createElement('canvas'); c.width = w; c.height = h; c.getContext('2d').putImageData(img, 0, 0);
  return (sd.bg = c);
}
const PAD = {l: 62, r: 12, t: 26, b: 40};
function frame(cv) { return {x: PAD.l, y: PAD.t, w: cv.width - PAD.l - PAD.r, h: cv.height - PAD.t - PAD.b}; }
function mapXY(sd, f, x, y) { const [x0, x1, y0, y1] = sd.domain;
  return [f.x + (x - x0) / (x1 - x0) * f.w, f.y + f.h - (y - y0) / (y1 - y0) * f.h]; }
function ticks(lo, hi, n) {
  const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
  const m = [1, 2, 5, 10].find(k => (hi - lo) / (k * step) <= n) * step, out = [];
  for (let v = Math.ceil(lo / m) * m; v <= hi + 1e-12; v += m) out.push(+v.toPrecision(6)); return out; }
function logTicks(r, n) {  // powers of ten; within less than a decade, plain values of the log axis
  const whole = ticks(r[0], r[1], n).filter(Number.isInteger);
  return whole.length >= 2 ? whole : ticks(r[0], r[1], n); }
function logText(v) { return Number.isInteger(v) ? '1e' + v : fmt(Math.pow(10, v)); }
function axes(ctx, f, xr, yr, xlabel, ylabel, title, xlog, ylog, grid = true, symlog = false) {
  ctx.strokeStyle = '#555'; ctx.fillStyle = '#222'; ctx.font = FONT; ctx.lineWidth = 1;
  ctx.strokeRect(f.x, f.y, f.w, f.h); ctx.textAlign = 'center'; ctx.textBaseline = 'top';
  const xt = xlog ? logTicks(xr, 6) : ticks(xr[0], xr[1], 6);
  for (const v of xt) { const px = f.x + (v - xr[0]) / (xr[1] - xr[0]) * f.w;
    ctx.fillText(xlog ? logText(v) : fmt(v), px, f.y + f.h + 4); }
  ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
  const yt = ylog || symlog ? logTicks(yr, 5) : ticks(yr[0], yr[1], 5);
  const ytext = v => ylog ? logText(v) : (symlog ? fmt(Math.sign(v) * (Math.pow(10, Math.abs(v)) - 1)) : fmt(v));
  for (const v of yt) { const py = f.y + f.h - (v - yr[0]) / (yr[1] - yr[0]) * f.h;
    ctx.fillText(ytext(v), f.x - 4, py);
    if (grid) { ctx.strokeStyle = '#e4e4e4'; ctx.beginPath(); ctx.moveTo(f.x, py); ctx.lineTo(f.x + f.w, py);
      ctx.stroke(); } }
  ctx.textAlign = 'center'; ctx.textBaseline = 'bottom'; ctx.fillText(xlabel, f.x + f.w / 2, f.y + f.h + 36);
  ctx.font = 'bold ' + FONT; ctx.fillText(title, f.x + f.w / 2, f.y - 6); ctx.font = FONT;
  ctx.save(); ctx.translate(4, f.y + f.h / 2); ctx.rotate(-Math.PI / 2); ctx.textBaseline = 'top';
    ctx.fillText(ylabel, 0, 0); ctx.restore();
}
function chart(cv, lines, opts) {
  const ctx = cv.getContext('2d'), f = frame(cv);
  ctx.clearRect(0, 0, cv.width, cv.height);
  let xs = [], ys = [];
  for (const ln of lines) for (let t = 0; t < ln.y.length; t++) if (ln.y[t] !== null) { xs.push(ln.x[t]);
    ys.push(ln.y[t]); }
  if (!xs.length) { xs = [0, 1]; ys = [0, 1]; }
  let xr = [Math.min(...xs), Math.max(...xs)], yr = [Math.min(...ys), Math.max(...ys)];
  if (xr[1] - xr[0] < 1e-9) xr[1] = xr[0] + 1; if (yr[1] - yr[0] < 1e-9) { yr[0] -= 0.5; yr[1] += 0.5; }
  const padY = 0.04 * (yr[1] - yr[0]); yr = [yr[0] - padY, yr[1] + padY];
  axes(ctx, f, xr, yr, opts.xlabel, opts.ylabel, opts.title, opts.xlog, opts.ylog, true, !!opts.symlog);
  ctx.save(); ctx.beginPath(); ctx.rect(f.x, f.y, f.w, f.h); ctx.clip();
  for (const ln of lines) {
    ctx.strokeStyle = ln.color; ctx.lineWidth = 2; ctx.beginPath(); let on = false;
    for (let t = 0; t < ln.y.length; t++) {
      if (ln.y[t] === null) { on = false; continue; }
      const px = f.x + (ln.x[t] - xr[0]) / (xr[1] - xr[0]) * f.w;
      const py = f.y + f.h - (ln.y[t] - yr[0]) / (yr[1] - yr[0]) * f.h;
      if (on) ctx.lineTo(px, py); else { ctx.moveTo(px, py); on = true; }
    }
    ctx.stroke();
  }
  ctx.restore();
}
function arrow(ctx, a, b, color) {
  const dx = b[0] - a[0], dy = b[1] - a[1], len = Math.hypot(dx, dy); if (len < 14) return;
  const ux = dx / len, uy = dy / len, hx = b[0] - 8 * ux, hy = b[1] - 8 * uy;
  ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(a[0], a[1]);
    ctx.lineTo(hx, hy); ctx.stroke();
  ctx.beginPath(); ctx.moveTo(b[0], b[1]); ctx.lineTo(hx - 4 * uy, hy + 4 * ux); ctx.lineTo(hx + 4 * uy, hy - 4 * ux);
    ctx.closePath(); ctx.fill();
}
function draw(i) {
  const sec = L.sections[i], sd = L.surfaces[sec.surface], st = state[i], root = document.getElementById('play-' + i);
  const cv = root.querySelector('canvas.map'), ctx = cv.getContext('2d'), f = frame(cv);
  ctx.clearRect(0, 0, cv.width, cv.height); ctx.imageSmoothingEnabled = true;
  ctx.drawImage(background(sd, f.w, f.h), f.x, f.y);
  const [x0, x1, y0, y1] = sd.domain;
  axes(ctx, f, [x0, x1], [y0, y1], sd.xlabel, sd.ylabel, sd.title || 'f = ' + sd.formula, false, false, false);
  ctx.save(); ctx.beginPath(); ctx.rect(f.x, f.y, f.w, f.h); ctx.clip();
  for (const [k, s] of sd.starts.entries()) { const [px, py] = mapXY(sd, f, s[0], s[1]);
    ctx.beginPath(); ctx.arc(px, py, k === st.start ? 6 : 3.5, 0, 2 * Math.PI); ctx.fillStyle = 'white'; ctx.fill();
    ctx.strokeStyle = k === st.start ? 'black' : '#777'; ctx.lineWidth = k === st.start ? 2 : 1; ctx.stroke(); }
  const losses = [], steps = [];
  drawn[i] = {};
  for (const n of sec.series) {
    const se = sd.series[n], set = st.set[n], c = combo(se, set.lr, set.knobs), p = path(sd, se, c, st.start);
    drawn[i][n] = p.xs.map((x, t) => [x, p.ys[t]]);
    const px = p.xs.map((x, t) => mapXY(sd, f, x, p.ys[t]));
    ctx.strokeStyle = se.color; ctx.lineWidth = 2; ctx.beginPath();
    px.forEach((q, t) => t ? ctx.lineTo(q[0], q[1]) : ctx.moveTo(q[0], q[1])); ctx.stroke();
    const shown = Math.min(px.length, sec.arrows + 1);
    for (let t = 0; t + 1 < shown; t++) arrow(ctx, px[t], px[t + 1], se.color);
    const e = px[px.length - 1];
    if (p.div >= 0) { ctx.strokeStyle = se.color; ctx.lineWidth = 3; ctx.beginPath(); ctx.moveTo(e[0] - 6, e[1] - 6);
      ctx.lineTo(e[0] + 6, e[1] + 6);
      ctx.moveTo(e[0] - 6, e[1] + 6); ctx.lineTo(e[0] + 6, e[1] - 6); ctx.stroke(); }
    else { ctx.beginPath(); ctx.arc(e[0], e[1], 4.5, 0, 2 * Math.PI); ctx.fillStyle = se.color; ctx.fill(); }
    const per = sec.curveX === 'examples' ? se.perStep : 0;
    const xs = p.cv.map((_, t) => per ? Math.log10(t * per + 1) : t);
    losses.push({x: xs, y: p.cv, color: se.color}); steps.push({x: xs, y: p.sl, color: se.color});
    const out = root.querySelector('[data-note="' + n + '"]');
    if (out) out.textContent = p.div >= 0 ? T.diverged.replace('{n}', p.div) : '';
  }
  for (const m of sd.minima) { const [px, py] = mapXY(sd, f, m[0], m[1]); ctx.font = '20px sans-serif';
    ctx.fillStyle = '#E6B800'; ctx.strokeStyle = '#6b5600'; ctx.lineWidth = 1;
    ctx.textAlign = 'center'; ctx.textBaseline = 'middle'; ctx.fillText('\u2605', px, py);
    ctx.strokeText('\u2605', px, py); }
  ctx.restore();
  if (sec.arrows) { ctx.font = FONT; ctx.fillStyle = '#222'; ctx.textAlign = 'left'; ctx.textBaseline = 'top';
    ctx.fillText('θ ← θ − η·∇f(θ)', f.x + 8, f.y + 6); }
  const xl = sec.curveX === 'examples' ? T.examples + ' (log)' : T.step;
  const xlog = sec.curveX === 'examples';
  chart(root.querySelector('canvas.loss'), losses,
        {xlabel: xl, ylabel: sd.curveLabel || (sd.curve.log ? T.gap : T.symloss), title: T.loss_title, xlog,
         ylog: sd.curve.log,
         symlog: !sd.curve.log});
  chart(root.querySelector('canvas.steps'), steps,
        {xlabel: xl, ylabel: T.steplen, title: T.steps_title, xlog, ylog: true});
  for (const n of sec.series) controls(i, n);
}
function controls(i, n) {
  const sec = L.sections[i], sd = L.surfaces[sec.surface], se = sd.series[n], set = state[i].set[n];
  const row = document.querySelector('#play-' + i + ' .ctl[data-series="' + n + '"]');
  const lrs = se.lrs, slider = row.querySelector('input.lr'), strip = row.querySelector('.strip');
  if (strip.children.length !== lrs.length) { strip.innerHTML = '<span></span>'.repeat(lrs.length);
    slider.max = lrs.length - 1; }
  slider.value = lrs.indexOf(set.lr); row.querySelector('.lrval').textContent = fmt(set.lr);
  const tuned = se.settings[se.tuned][0];
  row.querySelectorAll('.strip span').forEach((cell, j) => {
    const c = combo(se, lrs[j], set.knobs);
    cell.className = c === undefined ? 'na' : (se.div[c * sd.starts.length + state[i].start] >= 0 ? 'bad' : 'ok');
    if (lrs[j] === tuned) cell.classList.add('tuned');
    cell.title = 'lr ' + fmt(lrs[j]) + (c === undefined ? ' — ' + T.unavailable : '');
  });
  se.knobs.forEach((kn, j) => { const s = row.querySelector('input.knob[data-k="' + j + '"]');
    s.value = kn.values.indexOf(set.knobs[j]);
      row.querySelector('.kval[data-k="' + j + '"]').textContent = fmt(set.knobs[j]); });
}
function wire(i) {
  const sec = L.sections[i], sd = L.surfaces[sec.surface], root = document.getElementById('play-' + i);
  for (const n of sec.series) {
    const se = sd.series[n], set = state[i].set[n], row = root.querySelector('.ctl[data-series="' + n + '"]');
    row.querySelector('input.lr').addEventListener('input', e => {
      const want = se.lrs[Number(e.target.value)], ok = available(se, set.knobs);
      set.lr = ok.includes(want) ? want : nearest(ok, want); draw(i); });
    row.querySelectorAll('input.knob').forEach(s => s.addEventListener('input', e => {
      const j = Number(s.dataset.k); set.knobs[j] = se.knobs[j].values[Number(e.target.value)];
      const ok = available(se, set.knobs); if (!ok.includes(set.lr)) set.lr = nearest(ok, set.lr); draw(i); }));
    row.querySelector('button.reset').addEventListener('click', () => {
      const t = se.settings[se.tuned]; set.lr = t[0]; set.knobs = t.slice(1); draw(i); });
  }
  root.querySelectorAll('button.role').forEach(b => b.addEventListener('click', () => {
    const n = sec.series[0], se = sd.series[n]; state[i].set[n].lr = nearest(se.lrs, Number(b.dataset.lr));
    state[i].set[n].knobs = se.settings[se.tuned].slice(1); draw(i); }));
  const cv = root.querySelector('canvas.map');
  cv.addEventListener('click', e => {
    const r = cv.getBoundingClientRect(), f = frame(cv), sx = cv.width / r.width, sy = cv.height / r.height;
    const px = (e.clientX - r.left) * sx, py = (e.clientY - r.top) * sy;
    let best = 0, bd = Infinity;
    sd.starts.forEach((s, k) => {
      const q = mapXY(sd, f, s[0], s[1]), d = Math.hypot(q[0] - px, q[1] - py);
      if (d < bd) { bd = d; best = k; }
    });
    state[i].start = best; draw(i);
  });
}
L.sections.forEach((_, i) => { wire(i); draw(i); });
"""
