/**
 * The HTML diff report in a real headless browser: Debian's chromium driven by playwright-core
 * (never a downloaded browser). .ci/run installs chromium; without it this test fails when
 * CI_REQUIRE_TOOLS is set and otherwise reports why it could not run.
 */
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { runCli } from '../support/cli.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

describe('diff --format html in chromium', () => {
  it('shows the summary, the first divergence and the forests; a step click redraws; no network', async () => {
    if (!CHROMIUM) {
      console.warn('diff html: no chromium at /usr/bin/chromium (apt-get install -y chromium); the browser test did not run');
      expect(process.env['CI_REQUIRE_TOOLS'], 'CI must install chromium').toBeUndefined();
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'smmu-html-'));
    const report = join(dir, 'report.html');
    const r = await runCli(['diff', join(__dirname, '../../examples/rfc-pse-slip.kvm'), '--profile', 'rfc-v1', '--profile', 'rfc-v1-pae', '--format', 'html', '-o', report]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const requests: string[] = [];
      page.on('request', (q) => requests.push(q.url()));
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(pathToFileURL(report).href);

      const pair = page.locator('#summary .pair').first();
      expect(await pair.getAttribute('data-steps-differ')).toBe('8');
      expect(await pair.getAttribute('data-events-only-a')).toBe('11');
      expect(await pair.getAttribute('data-events-only-b')).toBe('3');
      expect(await pair.textContent()).toContain('rfc-v1 vs rfc-v1-pae: 8 of 13 steps differ');
      expect(await page.locator('#first-divergence').textContent()).toMatch(/^first divergence: vm 0 step 1 \(read 0x00400000\)/);
      expect(await page.locator('#timeline .step.differs').count()).toBe(8);

      // The first differing step is shown: the root, promoted in one profile only.
      const nodeA = page.locator('.forest[data-profile="rfc-v1"] .node.root').first();
      const nodeB = page.locator('.forest[data-profile="rfc-v1-pae"] .node.root').first();
      expect(await nodeA.getAttribute('title')).toMatch(/^role 0x[0-9a-f]+: q0 wux cr0_wp efer_nx has_4_byte_gpte pae_root$/);
      expect(await nodeB.getAttribute('title')).toMatch(/level_promoted pae_root$/);

      // Step 10: the two zaps only rfc-v1 makes.
      await page.locator('#timeline .step[data-step="10"]').click();
      expect(await page.locator('#outcome').textContent()).toMatch(/^step 10: write 0x00800004/);
      const del = await page.locator('#events tr.del td:first-child').allTextContents();
      expect(del).toEqual([
        'kvm_mmu_prepare_zap_page: sp gen 0 gfn 100 l2 4-byte q1 wux nxe ad root 0 sync',
        'kvm_mmu_prepare_zap_page: sp gen 0 gfn 100 l3 4-byte q0 wux nxe ad root 1 sync',
      ]);
      expect(await page.locator('.forest[data-profile="rfc-v1"] h3').textContent()).toBe('rfc-v1 after step 10 (4 pages)');
      const shot = join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
      writeFileSync(join(dir, 'ok'), '');
    } finally {
      await browser.close();
    }
  }, 60_000);
});
