import { describe, expect, it } from 'vitest';
import { quotePath } from '../../src/core/index.js';

describe('quotePath', () => {
  it('leaves ordinary names as they are, spaces, a leading dash and UTF-8 included', () => {
    for (const p of ['etc/app.conf', 'odd/ space ', 'odd/-rf', 'données/café.txt', '日本/ファイル']) expect(quotePath(p)).toBe(p);
  });

  it('quotes a name that would split a line or reach the terminal, as git does', () => {
    expect(quotePath('odd/new\nline')).toBe('"odd/new\\nline"');
    expect(quotePath('tab\there')).toBe('"tab\\there"');
    expect(quotePath('back\\slash')).toBe('"back\\\\slash"');
    expect(quotePath('say "hi"')).toBe('"say \\"hi\\""');
    expect(quotePath('x\x1b]0;owned\x07y')).toBe('"x\\x1b]0;owned\\x07y"');
    expect(quotePath('csi\u009b2J')).toBe('"csi\\x9b2J"');
    expect(quotePath('del\x7f')).toBe('"del\\x7f"');
  });

  it('never lets a raw control character through', () => {
    for (let c = 0; c < 0xa0; c++) {
      const q = quotePath(`a${String.fromCharCode(c)}b`);
      expect(q).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    }
  });
});
