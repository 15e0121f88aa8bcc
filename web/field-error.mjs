// Form feedback next to the field it is about: a message element after the
// input (created once, id "<input id>-error"), tied to it with aria-describedby
// and aria-invalid, gone again once the field changes.

function messageFor(input, place) {
  const id = `${input.id}-error`;
  let note = document.getElementById(id);
  if (!note) {
    note = document.createElement('p');
    note.id = id;
    note.className = 'field-error';
    note.dataset.testid = id;
    note.hidden = true;
    place.after(note);
    input.addEventListener('input', () => clearFieldError(input));
  }
  return note;
}

function describedBy(input, id, on) {
  const ids = new Set((input.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean));
  if (on) ids.add(id); else ids.delete(id);
  if (ids.size) input.setAttribute('aria-describedby', [...ids].join(' '));
  else input.removeAttribute('aria-describedby');
}

/**
 * Shows `text` under `input` (or after `after`, where the input sits in a row) and
 * marks it invalid; focuses it unless `focus` is false.
 */
export function showFieldError(input, text, { focus = true, after = input } = {}) {
  const note = messageFor(input, after);
  note.textContent = text;
  note.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  describedBy(input, note.id, true);
  if (focus) input.focus();
}

export function clearFieldError(input) {
  const note = document.getElementById(`${input.id}-error`);
  if (!note || note.hidden) return;
  note.hidden = true;
  note.textContent = '';
  input.removeAttribute('aria-invalid');
  describedBy(input, note.id, false);
}
