"""The Streamlit dashboard (see streamlit_app.py)."""
