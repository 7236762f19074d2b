"""The browser-wallet button: EIP-1193 ``eth_requestAccounts`` then ``personal_sign`` of the
server's EIP-4361 message, as a Streamlit custom component (v2, inline).

Two round trips: a click sends the wallet's account to Python (trigger ``account``), which
issues a challenge and mounts the component again with it; the component asks the wallet to sign
it once and sends ``{message, signature}`` back (trigger ``signed``), or why not (``refused``).
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
