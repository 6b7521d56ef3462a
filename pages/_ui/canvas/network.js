// TensorFlow Playground's network view on a canvas: every unit's map composed into ONE image (made
// with numpy on the server), the weights drawn as lines over the gaps between the columns, the
// columns' titles and the features' names as text. Mounted once, redrawn in place on a new frame.
//
// data: {step, image: PNG data URI, w, h (the image's size in pixels), left, right (screen px kept for
//        the features' names and the output's title), maxHeight (px on screen),
//        lines: [{colour, width (px on screen), xy: base64 float32 (x0, y0, x1, y1, ...)}],
//        titles: [{x, lines: [text]}] (over each column), labels: [{y, text}] (left of the features),
//        units: [{x, y, size, name}] (for the hover)}
// Coordinates are the image's pixels, (0, 0) its top-left corner; text is drawn at screen size.

const HEADER = 30;  // screen px above the maps for the columns' titles (two lines)

function floats(b64) {
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return new Float32Array(out.buffer);
}

function layout(root) {
  const data = root.__data;
  const width = Math.max(200, root.clientWidth || 500);
  const scale = Math.min((width - data.left - data.right) / data.w, (data.maxHeight - HEADER) / data.h);
  const offset = (width - data.left - data.right - data.w * scale) / 2 + data.left;
  return { scale, width, height: Math.ceil(data.h * scale) + HEADER + 2, offset };
}

function draw(root) {
  const data = root.__data, image = root.__image;
  if (!image || !image.complete) return;
  const canvas = root.querySelector("canvas");
  const { scale, width, height, offset } = layout(root);
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr); canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`; canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.setTransform(dpr * scale, 0, 0, dpr * scale, dpr * offset, dpr * HEADER);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(image, 0, 0);
  ctx.globalAlpha = 0.6;
  ctx.lineCap = "round";
  for (const group of data.lines) {
    const xy = floats(group.xy);
    ctx.strokeStyle = group.colour;
    ctx.lineWidth = group.width / scale;  // widths are screen pixels
    ctx.beginPath();
    for (let i = 0; i < xy.length; i += 4) { ctx.moveTo(xy[i], xy[i + 1]); ctx.lineTo(xy[i + 2], xy[i + 3]); }
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);  // text at screen size
  ctx.fillStyle = "#555555";
  ctx.font = "11px sans-serif";
  ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  for (const title of data.titles) {
    const x = offset + title.x * scale;
    title.lines.forEach((line, i) => ctx.fillText(line, x, HEADER - 3 - (title.lines.length - 1 - i) * 12));
  }
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const label of data.labels) ctx.fillText(label.text, offset - 5, HEADER + label.y * scale);
}

function hover(root, event) {
  const data = root.__data, tip = root.querySelector(".dp-tip");
  const rect = root.querySelector("canvas").getBoundingClientRect();
  const { scale, offset } = layout(root);
  const x = (event.clientX - rect.left - offset) / scale, y = (event.clientY - rect.top - HEADER) / scale;
  const unit = data.units.find((u) => Math.abs(x - u.x) <= u.size / 2 && Math.abs(y - u.y) <= u.size / 2);
  if (!unit) { tip.style.display = "none"; return; }
  tip.textContent = unit.name;
  tip.style.display = "block";
  tip.style.left = `${event.clientX - rect.left + 12}px`;
  tip.style.top = `${event.clientY - rect.top + 12}px`;
}

export default function ({ data, parentElement }) {
  let root = parentElement.querySelector(".dp-network");
  if (!root) {
    root = document.createElement("div");
    root.className = "dp-network";
    const tip = document.createElement("div");
    tip.className = "dp-tip";
    root.append(document.createElement("canvas"), tip);
    parentElement.append(root);
    root.__observer = new ResizeObserver(() => root.__data && draw(root));
    root.__observer.observe(root);
    const canvas = root.querySelector("canvas");
    canvas.addEventListener("mousemove", (e) => hover(root, e));
    canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  }
  root.__data = data;
  root.dataset.step = data.step === null || data.step === undefined ? "" : String(data.step);
  const image = new Image();
  image.onload = () => { if (root.__image === image) { draw(root); root.dataset.draws = String((+root.dataset.draws || 0) + 1); } };
  root.__image = image;
  image.src = data.image;
  return () => root.__observer.disconnect();
}
