// A 2D plane on a canvas, as TensorFlow Playground draws it: the model's output over the plane (a
// small grid of values, scaled up by the browser) with the points over it. Mounted once; Streamlit
// calls this again only when the data changed, and it redraws the canvas in place (no new element,
// no chart library): a live frame costs the browser about a millisecond.
//
// data: {step, extent: [x0, x1, y0, y1], scale: [low, mid, high colours], range: [low, high], label,
//        classes: [names] | null (a regression set), colours: [per class],
//        train / test: {xy: base64 float32 (x, y, x, y...), v: base64 float32 (class or value)} | null,
//        surface: {nx, ny, q: base64 uint8 (ny rows, y upwards; 0..255 over range)} | null, height,
//        lines: {xy: base64 float32, n lines of m points each, colour} | null (a GAN's manifold),
//        plain: true to name the points by class alone in the legend (no train / test)}

const MARGIN = { left: 36, right: 8, top: 6, bottom: 24 };
const SURFACE_OPACITY = 0.6;

function bytes(b64) {
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}
const floats = (b64) => new Float32Array(bytes(b64).buffer);
const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

// The colour of t in [0, 1] on the three-colour scale, mixed with white by `opacity`.
function scaleColour(scale, t, opacity = 1) {
  const [a, b] = t < 0.5 ? [scale[0], scale[1]] : [scale[1], scale[2]];
  const u = t < 0.5 ? t * 2 : (t - 0.5) * 2;
  return a.map((c, i) => Math.round(255 + ((c + (b[i] - c) * u) - 255) * opacity));
}

function niceTicks(low, high) {
  const raw = (high - low) / 5;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(low / step) * step; t <= high + 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  return ticks;
}

function surfaceImage(root, data) {
  const { nx, ny } = data.surface;
  const q = bytes(data.surface.q);
  const scale = data.scale.map(rgb);
  const lut = [];
  for (let i = 0; i < 256; i++) lut.push(scaleColour(scale, i / 255, SURFACE_OPACITY));
  const image = new ImageData(nx, ny);
  for (let row = 0; row < ny; row++) {
    for (let col = 0; col < nx; col++) {
      const colour = lut[q[row * nx + col]];
      const at = ((ny - 1 - row) * nx + col) * 4;  // the plane's y runs up, an image's rows down
      image.data[at] = colour[0]; image.data[at + 1] = colour[1]; image.data[at + 2] = colour[2]; image.data[at + 3] = 255;
    }
  }
  const small = document.createElement("canvas");
  small.width = nx; small.height = ny;
  small.getContext("2d").putImageData(image, 0, 0);
  root.__q = q;
  return small;
}

function drawPoints(ctx, data, set, kind, place) {
  if (!set) return;
  const xy = floats(set.xy), v = floats(set.v);
  const scale = data.scale.map(rgb);
  const [low, high] = data.range;
  for (let i = 0; i < v.length; i++) {
    const [x, y] = place(xy[2 * i], xy[2 * i + 1]);
    ctx.fillStyle = data.classes ? data.colours[v[i]] || "#888888"
      : `rgb(${scaleColour(scale, Math.min(1, Math.max(0, (v[i] - low) / (high - low)))).join(",")})`;
    ctx.beginPath();
    if (kind === "train") {
      ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.lineWidth = 0.7; ctx.strokeStyle = "#ffffff"; ctx.stroke();
    } else {
      ctx.moveTo(x, y - 4.5); ctx.lineTo(x + 4.5, y); ctx.lineTo(x, y + 4.5); ctx.lineTo(x - 4.5, y); ctx.closePath();
      ctx.fill();
      ctx.lineWidth = 1; ctx.strokeStyle = "#222222"; ctx.stroke();
    }
  }
}

function drawLines(ctx, lines, place) {
  if (!lines) return;
  const xy = floats(lines.xy);
  ctx.strokeStyle = lines.colour; ctx.lineWidth = 1;
  ctx.beginPath();
  for (let l = 0; l < lines.n; l++) {
    for (let k = 0; k < lines.m; k++) {
      const i = 2 * (l * lines.m + k);
      const [x, y] = place(xy[i], xy[i + 1]);
      if (k === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    }
  }
  ctx.stroke();
}

function draw(root) {
  const data = root.__data;
  const canvas = root.querySelector("canvas");
  const width = Math.max(200, root.clientWidth || 400);
  const side = Math.max(120, Math.min(width - MARGIN.left - MARGIN.right, data.height - MARGIN.top - MARGIN.bottom));
  const cssWidth = side + MARGIN.left + MARGIN.right, cssHeight = side + MARGIN.top + MARGIN.bottom;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(cssWidth * dpr) || canvas.height !== Math.round(cssHeight * dpr)) {
    canvas.width = Math.round(cssWidth * dpr); canvas.height = Math.round(cssHeight * dpr);
    canvas.style.width = `${cssWidth}px`; canvas.style.height = `${cssHeight}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssWidth, cssHeight);
  const [x0, x1, y0, y1] = data.extent;
  const px = (x) => MARGIN.left + (x - x0) / (x1 - x0) * side;
  const py = (y) => MARGIN.top + (y1 - y) / (y1 - y0) * side;
  root.__geometry = { side, px0: MARGIN.left, py0: MARGIN.top };
  if (data.surface) {
    if (root.__surfaceOf !== data) { root.__surface = surfaceImage(root, data); root.__surfaceOf = data; }
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(root.__surface, MARGIN.left, MARGIN.top, side, side);
  } else {
    ctx.fillStyle = "#f7f7f7";
    ctx.fillRect(MARGIN.left, MARGIN.top, side, side);
  }
  ctx.save();
  ctx.beginPath(); ctx.rect(MARGIN.left, MARGIN.top, side, side); ctx.clip();
  drawLines(ctx, data.lines, (x, y) => [px(x), py(y)]);
  drawPoints(ctx, data, data.train, "train", (x, y) => [px(x), py(y)]);
  drawPoints(ctx, data, data.test, "test", (x, y) => [px(x), py(y)]);
  ctx.restore();
  ctx.strokeStyle = "#cccccc"; ctx.lineWidth = 1;
  ctx.strokeRect(MARGIN.left + 0.5, MARGIN.top + 0.5, side - 1, side - 1);
  ctx.fillStyle = "#666666"; ctx.font = "11px sans-serif";
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const t of niceTicks(x0, x1)) ctx.fillText(`${+t.toFixed(2)}`, px(t), MARGIN.top + side + 5);
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const t of niceTicks(y0, y1)) ctx.fillText(`${+t.toFixed(2)}`, MARGIN.left - 5, py(t));
}

function legend(root, data) {
  const box = root.querySelector(".dp-legend");
  box.replaceChildren();
  const item = (mark, colour, text) => {
    const span = document.createElement("span");
    span.className = "dp-item";
    const swatch = document.createElement("span");
    swatch.className = `dp-${mark}`;
    swatch.style.background = colour;
    span.append(swatch, document.createTextNode(text));  // text, never markup
    box.append(span);
  };
  if (data.classes) {
    for (const [split, mark] of [["train", "dot"], ["test", "diamond"]]) {
      if (!data[split]) continue;
      data.classes.forEach((name, c) => item(mark, data.colours[c], data.plain ? name : `${name} (${split})`));
    }
  }
  if (data.lines) item("dot", data.lines.colour, data.lines.label);
  if (data.surface || !data.classes) {
    const bar = document.createElement("span");
    bar.className = "dp-item";
    const ramp = document.createElement("span");
    ramp.className = "dp-ramp";
    ramp.style.background = `linear-gradient(to right, ${data.scale.join(", ")})`;
    const [low, high] = data.range;
    bar.append(document.createTextNode(`${data.label} ${+low.toFixed(2)}`), ramp, document.createTextNode(`${+high.toFixed(2)}`));
    box.append(bar);
  }
}

function hover(root, event) {
  const data = root.__data, g = root.__geometry, tip = root.querySelector(".dp-tip");
  if (!g) return;
  const rect = root.querySelector("canvas").getBoundingClientRect();
  const u = (event.clientX - rect.left - g.px0) / g.side, w = (event.clientY - rect.top - g.py0) / g.side;
  if (u < 0 || u > 1 || w < 0 || w > 1) { tip.style.display = "none"; return; }
  const [x0, x1, y0, y1] = data.extent;
  const x = x0 + u * (x1 - x0), y = y1 - w * (y1 - y0);
  let text = `x1 ${x.toFixed(2)}, x2 ${y.toFixed(2)}`;
  if (data.surface && root.__q) {
    const { nx, ny } = data.surface;
    const col = Math.min(nx - 1, Math.floor(u * nx)), row = Math.min(ny - 1, Math.floor((1 - w) * ny));
    const [low, high] = data.range;
    text += ` · ${data.label} ${(low + root.__q[row * nx + col] / 255 * (high - low)).toFixed(2)}`;
  }
  tip.textContent = text;
  tip.style.display = "block";
  tip.style.left = `${event.clientX - rect.left + 12}px`;
  tip.style.top = `${event.clientY - rect.top + 12}px`;
}

export default function ({ data, parentElement }) {
  let root = parentElement.querySelector(".dp-plane");
  if (!root) {
    root = document.createElement("div");
    root.className = "dp-plane";
    root.append(document.createElement("canvas"));
    for (const name of ["dp-tip", "dp-legend"]) {
      const div = document.createElement("div");
      div.className = name;
      root.append(div);
    }
    parentElement.append(root);
    root.__observer = new ResizeObserver(() => root.__data && draw(root));
    root.__observer.observe(root);
    const canvas = root.querySelector("canvas");
    canvas.addEventListener("mousemove", (e) => hover(root, e));
    canvas.addEventListener("mouseleave", () => { root.querySelector(".dp-tip").style.display = "none"; });
  }
  root.__data = data;
  if (data.step === null || data.step === undefined) delete root.dataset.step;  // the data alone, no model yet
  else root.dataset.step = String(data.step);
  draw(root);
  legend(root, data);
  root.dataset.draws = String((+root.dataset.draws || 0) + 1);  // (counted by the benchmark)
  return () => root.__observer.disconnect();
}
