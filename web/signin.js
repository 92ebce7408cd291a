// The sign-in page: with the gateway's development sign-in, a user name (and whether an admin)
// gets a token as the `gateway_token` cookie; otherwise a token from the identity provider is
// pasted and kept as that cookie. Either way, back to the page that asked.

const $ = (id) => document.getElementById(id);
const next = (() => {
  const wanted = new URLSearchParams(location.search).get('next') || '/file-list.html';
  // Only a path on this site: never a redirect elsewhere.
  return wanted.startsWith('/') && !wanted.startsWith('//') ? wanted : '/file-list.html';
})();

function fail(text) {
  $('message').hidden = false;
  $('message').textContent = text;
}

const me = await fetch('/auth/me', { cache: 'no-store' }).then((r) => r.json()).catch(() => ({ mode: 'open' }));
if (me.mode !== 'jwt') {
  $('open').hidden = false;
} else if (me.devSignIn) {
  $('dev').hidden = false;
  $('user').focus();
} else {
  $('paste').hidden = false;
}
if (me.reason && me.mode === 'jwt') fail(`Your token was refused: ${me.reason}`);

$('dev').addEventListener('submit', async (event) => {
  event.preventDefault();
  const response = await fetch('/auth/dev/signin', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user: $('user').value.trim(), admin: $('admin').checked }),
  });
  if (response.ok) location.href = next;
  else fail((await response.json().catch(() => ({}))).message || `Sign-in failed (${response.status})`);
});

$('paste').addEventListener('submit', async (event) => {
  event.preventDefault();
  const jwt = $('jwt').value.trim();
  document.cookie = `gateway_token=${encodeURIComponent(jwt)}; path=/; SameSite=Strict${location.protocol === 'https:' ? '; Secure' : ''}`;
  const check = await fetch('/auth/me', { cache: 'no-store' }).then((r) => r.json());
  if (check.signedIn) location.href = next;
  else fail(`The token was refused: ${check.reason || 'unknown reason'}`);
});
