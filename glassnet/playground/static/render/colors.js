// Colour scales: TF Playground's orange (-1) - light grey (0) - blue (+1), and class colours.

const NEG = [245, 147, 34], MID = [232, 234, 235], POS = [8, 119, 189];

function mix(a, b, t) {
  return [0, 1, 2].map(i => Math.round(a[i] + (b[i] - a[i]) * t));
}

/** 256 RGB entries: byte b stands for v = b / 127.5 - 1 in [-1, 1]. */
export const LUT = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let b = 0; b < 256; b++) {
    const v = b / 127.5 - 1;
    const c = v < 0 ? mix(MID, NEG, -v) : mix(MID, POS, v);
    lut.set(c, b * 3);
  }
  return lut;
})();

/** CSS colour of a value in [-1, 1] (clipped). */
export function valueColor(v) {
  if (!Number.isFinite(v)) return "#c0392b";
  const b = Math.max(0, Math.min(255, Math.round((Math.max(-1, Math.min(1, v)) + 1) * 127.5)));
  return `rgb(${LUT[b * 3]},${LUT[b * 3 + 1]},${LUT[b * 3 + 2]})`;
}

/** Class colours: binary class 0 is TF's orange (-1), class 1 its blue (+1). */
export const CLASS_RGB = [[245, 147, 34], [8, 119, 189], [46, 160, 67], [142, 68, 173],
                          [214, 39, 40], [23, 190, 207], [140, 86, 75], [227, 119, 194]];

export function classColor(k) {
  const c = CLASS_RGB[k % CLASS_RGB.length];
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** TF Playground's opacity of the output behind the points (160 of 255): a correctly
 * classified point, drawn opaque in its class colour, stands out from its region. */
export const BACKGROUND_ALPHA = 160;

/** Paint an ImageData from bytes through the LUT (or class colours for multi-class);
 * `alpha` 0..255 (opaque by default: neuron thumbnails). */
export function paint(image, values, { discretize = false, classes = null, conf = null, alpha = 255 } = {}) {
  const d = image.data;
  for (let i = 0; i < values.length; i++) {
    let r, g, b;
    if (classes) {
      const c = CLASS_RGB[values[i] % CLASS_RGB.length];
      const t = discretize ? 0.85 : Math.max(0, (conf[i] / 255 - 1 / classes) / (1 - 1 / classes)) * 0.9;
      r = MID[0] + (c[0] - MID[0]) * t; g = MID[1] + (c[1] - MID[1]) * t; b = MID[2] + (c[2] - MID[2]) * t;
    } else {
      let v = values[i];
      if (discretize) v = v >= 128 ? 255 : 0;
      r = LUT[v * 3]; g = LUT[v * 3 + 1]; b = LUT[v * 3 + 2];
    }
    d[i * 4] = r; d[i * 4 + 1] = g; d[i * 4 + 2] = b; d[i * 4 + 3] = alpha;
  }
  return image;
}
