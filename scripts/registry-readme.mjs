#!/usr/bin/env node
/**
 * The README as the npm registry shows it. The registry renders the
 * tarball's README.md with no repository to resolve relative links against,
 * so at pack time (`prepack`) this rewrites README.md in place:
 *
 * - every relative link or image, e.g. `(examples/prometheus.ts)`, becomes
 *   an absolute URL of that file in this very version's tarball on unpkg
 *   (the linked files are shipped: see `files` in package.json); a link to
 *   a file the package does not ship fails the pack;
 * - `<!-- repo-only -->` ... `<!-- /repo-only -->` regions (instructions
 *   that need a clone, such as `npm run docs`) are dropped, and
 *   `<!-- registry-only ... -->` comments are unwrapped, with `{{version}}`
 *   and `{{unpkg}}` filled in and `{{file:PATH}}` made a link to that file
 *   (then rewritten like any other).
 *
 * `postpack` puts the original back (kept meanwhile in .README.md.repo).
 *
 *   node scripts/registry-readme.mjs rewrite|restore
 *   node scripts/registry-readme.mjs print     # the rewritten text, README.md untouched
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const README = path.join(ROOT, 'README.md');
const BACKUP = path.join(ROOT, '.README.md.repo');

/** Inline links and images whose target is not absolute, an anchor or a mailto. */
const RELATIVE_LINK = /(!?\[[^\]]*\]\()(?![a-z][a-z0-9+.-]*:|#|\/)([^)\s]+)(\))/gi;

/** Files the package ships, as npm selects them from `files` (the patterns this package uses). */
function shippedFiles(pkg) {
  const matchers = pkg.files.map((pattern) => {
    const re = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\//g, '(?:.*/)?')
      .replace(/\*/g, '[^/]*');
    return new RegExp(`^${re}$`);
  });
  return (file) => ['README.md', 'LICENSE', 'package.json'].includes(file) || matchers.some((m) => m.test(file));
}

/** The registry's README for `pkg`, from the repository's `text`. Throws on a link to a file not shipped. */
export function registryReadme(text, pkg) {
  const unpkg = `https://unpkg.com/${pkg.name}@${pkg.version}`;
  const shipped = shippedFiles(pkg);
  // `{{file:PATH}}` is a link to a shipped file, written so in the comment
  // because tools reading the repository's README (TypeDoc) see links in comments too.
  const fill = (s) =>
    s
      .replaceAll('{{version}}', pkg.version)
      .replaceAll('{{unpkg}}', unpkg)
      .replace(/\{\{file:([^}]+)\}\}/g, (_, file) => `[\`${file}\`](${file})`);
  const missing = [];
  const out = text
    .replace(/<!-- repo-only -->[\s\S]*?<!-- \/repo-only -->\n?/g, '')
    .replace(/<!-- registry-only\n([\s\S]*?)-->\n?/g, (_, body) => fill(body))
    .replace(RELATIVE_LINK, (_, open, target, close) => {
      const [file, anchor = ''] = target.split('#');
      const rel = path.posix.normalize(file.replace(/^\.\//, ''));
      if (!shipped(rel) || !fs.existsSync(path.join(ROOT, rel))) missing.push(target);
      return `${open}${unpkg}/${rel}${anchor === '' ? '' : `#${anchor}`}${close}`;
    });
  if (missing.length > 0) {
    throw new Error(`README links to files the package does not ship: ${missing.join(', ')} (add them to "files")`);
  }
  return out;
}

function main(mode) {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  if (mode === 'print') {
    process.stdout.write(registryReadme(fs.readFileSync(README, 'utf8'), pkg));
  } else if (mode === 'rewrite') {
    // A backup left by an interrupted pack holds the real README: start from it.
    if (fs.existsSync(BACKUP)) fs.copyFileSync(BACKUP, README);
    const original = fs.readFileSync(README, 'utf8');
    const rewritten = registryReadme(original, pkg);
    fs.writeFileSync(BACKUP, original);
    fs.writeFileSync(README, rewritten);
    console.error(`registry-readme: README.md rewritten for the registry (restored by postpack)`);
  } else if (mode === 'restore') {
    if (fs.existsSync(BACKUP)) {
      fs.copyFileSync(BACKUP, README);
      fs.rmSync(BACKUP);
    }
  } else {
    console.error('usage: registry-readme.mjs rewrite|restore|print');
    process.exit(2);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv[2]);
