"""The browser wallet, as Streamlit custom components (v2, inline).

:func:`wallet_button` signs in: EIP-1193 ``eth_requestAccounts`` then ``personal_sign`` of the
server's EIP-4361 message. Two round trips: a click sends the wallet's account to Python (trigger
``account``), which issues a challenge and mounts the component again with it; the component asks
the wallet to sign it once and sends ``{message, signature}`` back (trigger ``signed``), or why
not (``refused``).

:func:`typed_data_signer` signs a command or an approval the server issued: it asks the wallet
for ``eth_signTypedData_v4`` of exactly the typed data it is given, once per request id, and
sends ``{id, signature}`` back (``signed``) or ``{id, error}`` (``refused``). The server checks
the signature, the signer and the signer's role on chain; nothing the browser says is trusted.

:func:`transaction_sender` sends a governance transaction the server built (``eth_sendTransaction``:
the wallet signs and sends it, the server only ever holds the unsigned call) and sends
``{id, tx_hash}`` back (``sent``) or ``{id, error}`` (``refused``); the server then waits for the
receipt and checks the mined transaction is the one it built.
"""

from __future__ import annotations

import streamlit as st

_HTML = """
<div class="dt-wallet">
  <button id="dt-wallet-connect" type="button">Sign in with browser wallet</button>
  <span id="dt-wallet-status" role="status"></span>
</div>
"""

_CSS = """
.dt-wallet { display: flex; gap: .75rem; align-items: center; font-family: var(--st-font); }
#dt-wallet-connect {
  border: none; padding: .5rem 1rem; border-radius: var(--st-button-radius);
  background: var(--st-primary-color); color: white; cursor: pointer;
}
#dt-wallet-connect:disabled { opacity: .5; cursor: not-allowed; }
#dt-wallet-status { color: var(--st-text-color); }
"""

_JS = """
const asked = new Set();

function toHex(text) {
  return "0x" + Array.from(new TextEncoder().encode(text))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const button = parentElement.querySelector("#dt-wallet-connect");
  const status = parentElement.querySelector("#dt-wallet-status");
  const wallet = window.ethereum;
  if (!wallet) {
    button.disabled = true;
    status.textContent = "No browser wallet found in this browser: use the command line below.";
    return;
  }
  button.onclick = async () => {
    try {
      const [account] = await wallet.request({ method: "eth_requestAccounts" });
      setTriggerValue("account", account);
    } catch (err) {
      status.textContent = "The wallet did not share an account: " + (err.message || err);
    }
  };
  if (data && data.message && !asked.has(data.nonce)) {
    asked.add(data.nonce);
    status.textContent = "Confirm the sign-in in your wallet…";
    wallet.request({ method: "personal_sign", params: [toHex(data.message), data.address] })
      .then((signature) => setTriggerValue("signed", { message: data.message, signature }))
      .catch((err) => {
        status.textContent = "Signing was refused: " + (err.message || err);
        setTriggerValue("refused", String(err.message || err));
      });
  }
}
"""

_wallet_button = st.components.v2.component("dt_wallet_sign_in", html=_HTML, css=_CSS, js=_JS)


def wallet_button(challenge: dict | None, *, key: str = "dt_wallet"):
    """Mount the button; ``challenge`` (``address``, ``nonce``, ``message``) asks for a signature.

    Returns the component result: ``.account``, ``.signed`` and ``.refused`` are set on the run
    right after the browser sent them, ``None`` otherwise.
    """
    return _wallet_button(
        key=key,
        data=challenge,
        on_account_change=lambda: None,
        on_signed_change=lambda: None,
        on_refused_change=lambda: None,
    )


_SIGN_HTML = """
<div class="dt-sign"><span id="dt-sign-status" role="status"></span></div>
"""

_SIGN_CSS = """
.dt-sign { font-family: var(--st-font); color: var(--st-text-color); min-height: 1.5rem; }
"""

_WALLET_REQUEST_JS = """
const asked = new Set();

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const status = parentElement.querySelector("#dt-sign-status");
  if (!data || !data.id) {
    status.textContent = "";
    return;
  }
  if (asked.has(data.id)) return;
  asked.add(data.id);
  const wallet = window.ethereum;
  if (!wallet) {
    status.textContent = "No browser wallet found in this browser: @@FALLBACK@@";
    setTriggerValue("refused", { id: data.id, error: "no browser wallet in this browser" });
    return;
  }
  status.textContent = data.prompt || "@@PROMPT@@";
  wallet.request(@@REQUEST@@)
    .then((answer) => {
      status.textContent = "@@DONE@@";
      setTriggerValue("@@TRIGGER@@", { id: data.id, @@FIELD@@: String(answer) });
    })
    .catch((err) => {
      status.textContent = "@@REFUSED@@" + (err.message || err);
      setTriggerValue("refused", { id: data.id, error: String(err.message || err) });
    });
}
"""


def _wallet_request_js(**parts: str) -> str:
    """One browser-wallet request, asked once per request id: the JS of a component that reports
    the wallet's answer (trigger ``parts["TRIGGER"]``) or its refusal (``refused``)."""
    js = _WALLET_REQUEST_JS
    for name, text in parts.items():
        js = js.replace(f"@@{name}@@", text)
    return js


_SIGN_JS = _wallet_request_js(
    FALLBACK="sign with the command line.",
    PROMPT="Confirm the signature in your wallet…",
    REQUEST='{ method: "eth_signTypedData_v4", params: [data.address, data.typed_data] }',
    DONE="Signed; the server checks the signature and your role…",
    TRIGGER="signed",
    FIELD="signature",
    REFUSED="Signing was refused: ",
)

_typed_data_signer = st.components.v2.component(
    "dt_wallet_sign_typed_data", html=_SIGN_HTML, css=_SIGN_CSS, js=_SIGN_JS
)


def typed_data_signer(request: dict | None, *, key: str = "dt_sign_typed_data"):
    """Mount the signer; ``request`` (``id``, ``address``, ``typed_data`` as JSON text and an
    optional ``prompt``) asks the wallet for one ``eth_signTypedData_v4`` signature.

    Returns the component result: ``.signed`` (``{id, signature}``) and ``.refused``
    (``{id, error}``) are set on the run right after the browser sent them, ``None`` otherwise.
    """
    return _typed_data_signer(
        key=key,
        data=request,
        on_signed_change=lambda: None,
        on_refused_change=lambda: None,
    )


_SEND_JS = _wallet_request_js(
    FALLBACK="use the command line.",
    PROMPT="Confirm the transaction in your wallet…",
    REQUEST='{ method: "eth_sendTransaction", params: [data.tx] }',
    DONE="Sent; waiting for it to be mined…",
    TRIGGER="sent",
    FIELD="tx_hash",
    REFUSED="The wallet did not send it: ",
)

_transaction_sender = st.components.v2.component(
    "dt_wallet_send_transaction", html=_SIGN_HTML, css=_SIGN_CSS, js=_SEND_JS
)


def transaction_sender(request: dict | None, *, key: str = "dt_send_transaction"):
    """Mount the sender; ``request`` (``id``, ``tx`` — the ``eth_sendTransaction`` parameter the
    server built: from, to, data, chainId, gas — and an optional ``prompt``) asks the wallet to
    sign and send that transaction once.

    Returns the component result: ``.sent`` (``{id, tx_hash}``) and ``.refused`` (``{id, error}``)
    are set on the run right after the browser sent them, ``None`` otherwise.
    """
    return _transaction_sender(
        key=key,
        data=request,
        on_sent_change=lambda: None,
        on_refused_change=lambda: None,
    )
