// The whole input pipeline in one dispatch: picks this step's images from the resident data set
// (bytes, four to a u32) through the shuffled order, normalises them to mean 0, std 1 and zero-pads
// them (LeNet-5 sees 28x28 as 32x32). The step number comes from the loss kernel's counter, so a
// recorded step replays unchanged. Samples past the end of the set get the INVALID label.

override B: u32;
override COUNT: u32;
override ROWS: u32;
override COLS: u32;
override PAD: u32 = 0u;
override MEAN: f32;
override STD: f32;
const INVALID: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read> images: array<u32>;
@group(0) @binding(1) var<storage, read> labels_all: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> stats: array<u32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;

// Byte i of a byte array stored four to a word, little-endian.
fn byte_of(word: u32, i: u32) -> u32 {
  return (word >> (8u * (i % 4u))) & 0xffu;
}

// One invocation: one output pixel (c, r) of sample n.
@compute @workgroup_size(64)
fn gather_batch(@builtin(global_invocation_id) gid: vec3u) {
  let height = ROWS + 2u * PAD;
  let width = COLS + 2u * PAD;
  let p = gid.x;
  let n = gid.y;
  if (p >= height * width || n >= B) { return; }
  let position = stats[0] * B + n;
  let valid = position < COUNT;
  let r = i32(p / width) - i32(PAD);
  let c = i32(p % width) - i32(PAD);
  var value = 0.0;
  var label = INVALID;
  if (valid) {
    let image = order[position];
    if (r >= 0 && r < i32(ROWS) && c >= 0 && c < i32(COLS)) {
      let i = image * ROWS * COLS + u32(r) * COLS + u32(c);
      value = (f32(byte_of(images[i / 4u], i)) / 255.0 - MEAN) / STD;
    }
    label = byte_of(labels_all[image / 4u], image);
  }
  x[n * height * width + p] = value;
  if (p == 0u) { labels[n] = label; }
}
