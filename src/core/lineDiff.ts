/**
 * A unified diff of two texts, line by line (what `diff -u` prints), to show a compose-file edit or a
 * change made on the host before anything is written.
 */

type Op = { kind: ' ' | '-' | '+'; text: string; oldLine: number; newLine: number };

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The edit script: common prefix and suffix kept, the middle by longest common subsequence. */
function editScript(a: string[], b: string[]): Op[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  const ops: Op[] = [];
  for (let i = 0; i < start; i++) ops.push({ kind: ' ', text: a[i], oldLine: i + 1, newLine: i + 1 });
  const n = midA.length;
  const m = midB.length;
  if (n * m > 4_000_000) {
    // Too big to align: show the middle as replaced (still a correct diff).
    midA.forEach((text, i) => ops.push({ kind: '-', text, oldLine: start + i + 1, newLine: start + 1 }));
    midB.forEach((text, j) => ops.push({ kind: '+', text, oldLine: start + n + 1, newLine: start + j + 1 }));
  } else {
    const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) lcs[i][j] = midA[i] === midB[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && midA[i] === midB[j]) {
        ops.push({ kind: ' ', text: midA[i], oldLine: start + i + 1, newLine: start + j + 1 });
        i++;
        j++;
      } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) {
        // Removals before additions, as diff -u prints them.
        ops.push({ kind: '-', text: midA[i], oldLine: start + i + 1, newLine: start + j + 1 });
        i++;
      } else {
        ops.push({ kind: '+', text: midB[j], oldLine: start + i + 1, newLine: start + j + 1 });
        j++;
      }
    }
  }
  for (let k = 0; k < a.length - endA; k++) ops.push({ kind: ' ', text: a[endA + k], oldLine: endA + k + 1, newLine: endB + k + 1 });
  return ops;
}

/** `--- a\n+++ b\n@@ -l,s +l,s @@` hunks with `context` unchanged lines around each change; '' when equal. */
export function unifiedDiff(oldText: string, newText: string, options: { oldName?: string; newName?: string; context?: number } = {}): string {
  if (oldText === newText) return '';
  const context = options.context ?? 3;
  const ops = editScript(splitLines(oldText.replace(/\r\n/g, '\n')), splitLines(newText.replace(/\r\n/g, '\n')));
  const changed = ops.map((op, i) => (op.kind === ' ' ? -1 : i)).filter((i) => i >= 0);
  if (changed.length === 0) {
    // Only the line endings or the final newline differ.
    return `--- ${options.oldName ?? 'a'}\n+++ ${options.newName ?? 'b'}\n(only line endings or the final newline differ)\n`;
  }
  const hunks: Array<[number, number]> = [];
  for (const index of changed) {
    const from = Math.max(0, index - context);
    const to = Math.min(ops.length - 1, index + context);
    const last = hunks[hunks.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else hunks.push([from, to]);
  }
  const out = [`--- ${options.oldName ?? 'a'}`, `+++ ${options.newName ?? 'b'}`];
  for (const [from, to] of hunks) {
    const slice = ops.slice(from, to + 1);
    const oldCount = slice.filter((op) => op.kind !== '+').length;
    const newCount = slice.filter((op) => op.kind !== '-').length;
    const oldStart = slice[0].oldLine - (oldCount === 0 ? 1 : 0);
    const newStart = slice[0].newLine - (newCount === 0 ? 1 : 0);
    out.push(`@@ -${oldStart},${oldCount} +${newStart},${newCount} @@`);
    for (const op of slice) out.push(`${op.kind}${op.text}`);
  }
  return `${out.join('\n')}\n`;
}
