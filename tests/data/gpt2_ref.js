// Reference side of test_tokenizer_ref: encodes files with the npm gpt-3-encoder package.
// usage: node gpt2_ref.js PACKAGE_DIR OUT_FILE IN_FILE...
// Each input file is read as bytes and decoded with Buffer.toString('utf8'), which
// replaces ill-formed UTF-8 with U+FFFD per maximal subpart; the C side applies the same
// rule, so both sides encode the same string. The ids of all files are written to
// OUT_FILE as little-endian int32, each file preceded by its id count.
//
// Encoder.js's encode() concatenates arrays per piece, which is quadratic, so long texts
// are cut into chunks at points where GPT-2's pattern cannot match across the cut: right
// after a "\n" that is preceded and followed by a non-space character. There the newline
// is a piece on its own ("\s+" of length one) and the next piece starts after it, with
// or without the cut, because the pattern has no look-behind.
'use strict';
const fs = require('fs');
const path = require('path');
const { encode } = require(path.resolve(process.argv[2]));
const out = process.argv[3];
const isSpace = /^\s$/u;

function encodeLong(text) {
  const ids = [];
  let start = 0;
  const CHUNK = 4096;
  while (start < text.length) {
    let cut = text.length;
    if (text.length - start > CHUNK) {
      cut = -1;
      for (let i = start + CHUNK; i + 1 < text.length; i++) {
        if (text[i] === '\n' && i > 0 && !isSpace.test(text[i - 1]) && !isSpace.test(text[i + 1]) &&
            text.charCodeAt(i + 1) < 0xD800) {
          cut = i + 1;
          break;
        }
      }
      if (cut < 0) cut = text.length;
    }
    const part = encode(text.slice(start, cut));
    for (const id of part) ids.push(id === undefined ? -1 : id);
    start = cut;
  }
  return ids;
}

const chunks = [];
for (const f of process.argv.slice(4)) {
  const text = fs.readFileSync(f).toString('utf8');
  const ids = encodeLong(text);
  const buf = Buffer.alloc(4 * (ids.length + 1));
  buf.writeInt32LE(ids.length, 0);
  for (let i = 0; i < ids.length; i++) buf.writeInt32LE(ids[i], 4 * (i + 1));
  chunks.push(buf);
}
fs.writeFileSync(out, Buffer.concat(chunks));
