// Join links: `#token=<access token>[&room=N]`, the way an application hands
// a user into a server that requires tokens (docs/protocol.md, section 5).
// The page reads the token's claims only to explain things early (its name,
// its rooms, its expiry); the server is what checks the token.

function claimsOf(token) {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** The link in the page's URL: {token, name, rooms (array or '*'), expired, malformed}, or null. */
export function joinLink(hash, nowSeconds = Date.now() / 1000) {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token');
  if (!token) return null;
  const claims = claimsOf(token);
  if (!claims) return { token, malformed: true };
  return {
    token,
    name: typeof claims.name === 'string' && claims.name ? claims.name : (typeof claims.sub === 'string' ? claims.sub : ''),
    rooms: claims.rooms === '*' ? '*' : (Array.isArray(claims.rooms) ? claims.rooms : []),
    expired: typeof claims.exp === 'number' && claims.exp <= nowSeconds,
  };
}

/** Whether the link lets its holder into `room`. */
export const allowsRoom = (link, room) => link.rooms === '*' || link.rooms.includes(room);

/** The URL fragment that keeps the link across reloads once in `room`. */
export const linkHash = (link, room) =>
  `#${new URLSearchParams({ token: link.token, ...(room === null ? {} : { room: String(room) }) })}`;
