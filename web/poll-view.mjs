// One poll of the poll agent (examples/agents/poll) as a list item: the
// question, a button per option with its count, the own vote marked, Close for
// the opener, and a status line that reads the result out. Built once and then
// updated in place, so a vote arriving does not take the focus away. Text from
// the network goes in through textContent only.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export const votesText = (n) => (n === 1 ? '1 vote' : `${n} votes`);

/** The list item of `poll` ({id, question, options}); onVote(index) and onClose() are its buttons. */
export function pollElement(poll, { onVote, onClose }) {
  const li = el('li', 'poll');
  li.dataset.testid = 'poll';
  li.dataset.pollId = String(poll.id);
  const questionId = `poll-${poll.id}-question`;
  const head = el('div', 'poll__head');
  head.append(el('span', 'msg__tag', 'Poll'));
  const question = el('p', 'poll__question', poll.question);
  question.id = questionId;
  question.dataset.testid = 'poll-question';

  const options = el('div', 'poll__options');
  options.setAttribute('role', 'group');
  options.setAttribute('aria-labelledby', questionId);
  poll.options.forEach((text, i) => {
    const button = el('button', 'poll__option');
    button.type = 'button';
    button.dataset.testid = 'poll-option';
    button.dataset.index = String(i);
    const count = el('span', 'poll__count');
    count.dataset.testid = 'poll-count';
    count.setAttribute('aria-hidden', 'true');
    button.append(el('span', 'poll__label', text), count, el('span', 'visually-hidden poll__votes'));
    button.addEventListener('click', () => onVote(i));
    options.append(button);
  });

  const foot = el('div', 'poll__foot');
  const status = el('p', 'poll__status muted');
  status.dataset.testid = 'poll-status';
  status.setAttribute('role', 'status');
  const close = el('button', 'secondary poll__close', 'Close poll');
  close.type = 'button';
  close.dataset.testid = 'poll-close';
  close.hidden = true;
  close.addEventListener('click', onClose);
  foot.append(status, close);

  li.append(head, question, options, foot);
  return li;
}

/** Shows the counts of `poll` ({votes, closed?}); `myVote`: our option or undefined; `opener`: Close is ours. */
export function updatePoll(li, poll, { myVote, opener, closing = false }) {
  const total = poll.votes.reduce((a, b) => a + b, 0);
  li.dataset.state = poll.closed ? 'closed' : 'open';
  li.classList.toggle('poll--closed', !!poll.closed);
  li.querySelectorAll('.poll__option').forEach((button, i) => {
    const n = poll.votes[i] ?? 0;
    button.querySelector('.poll__count').textContent = String(n);
    button.querySelector('.poll__votes').textContent = `, ${votesText(n)}`;
    button.setAttribute('aria-pressed', String(myVote === i));
    button.disabled = !!poll.closed;
    button.style.setProperty('--share', `${total ? Math.round((100 * n) / total) : 0}%`);
  });
  const mine = myVote === undefined ? '' : ` · you voted for ${poll.options[myVote]}`;
  li.querySelector('.poll__status').textContent = poll.closed
    ? `Closed · final result: ${poll.options.map((o, i) => `${o} ${poll.votes[i] ?? 0}`).join(', ')}`
    : `${votesText(total)}${mine}`;
  const close = li.querySelector('.poll__close');
  close.hidden = !opener || !!poll.closed;
  close.disabled = closing;
}
