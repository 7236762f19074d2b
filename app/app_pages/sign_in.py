"""Sign in with an Ethereum account (EIP-4361): a browser wallet, or a local key on the CLI."""

import streamlit as st

from app import session
from app.auth import Challenge, SignInError
from app.wallet_component import wallet_button

CLI_CHALLENGE = "dt_cli_challenge"
WALLET_CHALLENGE = "dt_wallet_challenge"

st.title("dt-platform")
st.write(
    "Digital twins of the production line: remaining useful life, maintenance alerts, "
    "production figures and the audit trail anchored on chain. Sign in with your Ethereum "
    "account; what you may see follows the roles it holds on chain."
)

service = session.sign_in()
if service is None:
    st.stop()


def accept(message: str, signature: str) -> None:
    try:
        session.remember(service.verify(message, signature))
    except SignInError as exc:
        st.error(f"Sign-in refused: {exc}")
        return
    st.session_state.pop(CLI_CHALLENGE, None)
    st.session_state.pop(WALLET_CHALLENGE, None)
    st.rerun()


def new_challenge(address: str) -> Challenge | None:
    try:
        return service.challenge(address, client=session.client())
    except SignInError as exc:
        st.error(str(exc))
        return None


st.subheader("Browser wallet")
pending: Challenge | None = st.session_state.get(WALLET_CHALLENGE)
result = wallet_button(
    {"address": pending.address, "nonce": pending.nonce, "message": pending.message}
    if pending
    else None
)
if result.account:
    challenge = new_challenge(result.account)
    if challenge is not None:
        st.session_state[WALLET_CHALLENGE] = challenge
        st.rerun()
if result.signed:
    accept(result.signed["message"], result.signed["signature"])
if result.refused:
    st.session_state.pop(WALLET_CHALLENGE, None)

st.subheader("Command line")
with st.form("cli_challenge"):
    address = st.text_input("Your address", placeholder="0x…", key="cli_address")
    if st.form_submit_button("Get a sign-in message"):
        challenge = new_challenge(address)
        if challenge is not None:
            st.session_state[CLI_CHALLENGE] = challenge

challenge = st.session_state.get(CLI_CHALLENGE)
if challenge is not None:
    st.write(
        f"Sign this message within {service.challenge_ttl.seconds // 60} minutes "
        f"(until {challenge.expires_at:%H:%M:%S} UTC):"
    )
    st.code(challenge.message, language=None)
    st.download_button("Download the message", challenge.message, file_name="dt-sign-in.txt")
    st.markdown(
        "Sign it with your key and paste the signature below:\n\n"
        "`DT_WALLET_KEY=0x… dt-platform wallet sign-in dt-sign-in.txt`"
    )
    with st.form("cli_signature"):
        signature = st.text_input("Signature", placeholder="0x…", key="cli_signature")
        if st.form_submit_button("Sign in"):
            accept(challenge.message, signature)

if service.allow_dev_accounts:
    with st.expander("Local demo accounts"):
        st.write(
            "On the local dev chain `make demo` gives each role to one of anvil's dev "
            "accounts. Sign in as one of them with "
            "`dt-platform wallet sign-in --dev-account MANAGER dt-sign-in.txt`."
        )
        client = session.chain_or_error()
        if client is not None:
            st.table(
                [
                    {"role": role, "address": address}
                    for role, address in client.deployment.demo_roles.items()
                ]
            )
