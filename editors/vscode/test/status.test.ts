import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRemaining, StatusModel, taskOf } from '../src/status';

const tasks = [
  { id: 'regression', folder: '/ws/regression', best_score: 2, last_verdict: 'ok' },
  { id: 'fashion_mnist', folder: '/ws/fashion_mnist', best_score: 4, last_verdict: 'timeout' },
];

test('remaining time reads as h:mm:ss, m:ss, never negative', () => {
  assert.equal(formatRemaining(5 * 3600), '5:00:00');
  assert.equal(formatRemaining(3599.9), '59:59');
  assert.equal(formatRemaining(545), '9:05');
  assert.equal(formatRemaining(-3), '0:00');
});

test('the task of a file is the one whose folder holds it', () => {
  assert.equal(taskOf('/ws/fashion_mnist/solution.cpp', tasks)?.id, 'fashion_mnist');
  assert.equal(taskOf('/ws/fashion_mnist/sub/x.cpp', tasks), undefined);
  assert.equal(taskOf('/elsewhere/solution.cpp', tasks), undefined);
  assert.equal(taskOf(undefined, tasks), undefined);
});

test('the countdown ticks from the last timer note, with the open task\'s best score', () => {
  const m = new StatusModel();
  assert.equal(m.text(0, undefined), undefined, 'nothing to show before a session is known');
  m.setTasks(tasks);
  m.timer({ session: 's', remaining_s: 3600, warning_minutes: null }, 1_000_000);
  assert.equal(m.text(1_000_000 + 61_000, undefined), '$(watch) 58:59');
  assert.equal(m.text(1_000_000, '/ws/fashion_mnist/solution.cpp'), '$(watch) 1:00:00 · fashion_mnist best 4/5');
  assert.equal(m.urgent(1_000_000), false);
  assert.equal(m.urgent(1_000_000 + 3001_000), true);
  m.timer({ session: 's', remaining_s: 0, warning_minutes: null, state: 'closed' }, 2_000_000);
  assert.equal(m.text(2_000_000, undefined), '$(lock) exam closed');
  assert.equal(m.urgent(2_000_000), false);
});

test('a paused session says so and its clock holds', () => {
  const m = new StatusModel();
  m.timer({ session: 's', remaining_s: 600, warning_minutes: null, state: 'paused' }, 0);
  assert.equal(m.text(0, undefined), '$(debug-pause) 10:00 paused');
});
