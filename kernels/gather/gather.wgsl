// The whole input pipeline in one dispatch: picks this step's images from the resident data set
// through the shuffled order, normalises each channel to mean 0, std 1 and zero-pads them (LeNet-5
// sees 28x28 as 32x32). Images are C x ROWS x COLS each, stored either as bytes (F32 = 0: four to a
// u32, scaled by 1/255 before normalising) or as float32 values (F32 = 1: each value's bits in a u32).
// The step number comes from the loss kernel's counter, so a recorded step replays unchanged.
// Samples past the end of the set get the INVALID label.

override B: u32;
override COUNT: u32;
override C: u32 = 1u;
override ROWS: u32;
override COLS: u32;
override PAD: u32 = 0u;
override F32: u32 = 0u;
const INVALID: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read> images: array<u32>;
// One label per image.
@group(0) @binding(1) var<storage, read> labels_all: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> stats: array<u32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;
// The mean of each channel, then the std of each channel: [2 C].
@group(0) @binding(6) var<storage, read> normal: array<f32>;

// Byte i of a byte array stored four to a word, little-endian.
fn byte_of(word: u32, i: u32) -> u32 {
  return (word >> (8u * (i % 4u))) & 0xffu;
}

// One invocation: one output value (ch, r, c) of sample n.
@compute @workgroup_size(64)
fn gather_batch(@builtin(global_invocation_id) gid: vec3u) {
  let height = ROWS + 2u * PAD;
  let width = COLS + 2u * PAD;
  let p = gid.x;
  let n = gid.y;
  if (p >= C * height * width || n >= B) { return; }
  let ch = p / (height * width);
  let q = p % (height * width);
  let position = stats[0] * B + n;
  let valid = position < COUNT;
  let r = i32(q / width) - i32(PAD);
  let c = i32(q % width) - i32(PAD);
  var value = 0.0;
  var label = INVALID;
  if (valid) {
    let image = order[position];
    if (r >= 0 && r < i32(ROWS) && c >= 0 && c < i32(COLS)) {
      let i = ((image * C + ch) * ROWS + u32(r)) * COLS + u32(c);
      var raw = 0.0;
      if (F32 == 1u) {
        raw = bitcast<f32>(images[i]);
      } else {
        raw = f32(byte_of(images[i / 4u], i)) / 255.0;
      }
      value = (raw - normal[ch]) / normal[C + ch];
    }
    label = labels_all[image];
  }
  x[n * C * height * width + p] = value;
  if (p == 0u) { labels[n] = label; }
}
