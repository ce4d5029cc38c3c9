"""The WhatsApp Cloud API adapter (pywa): webhook intake, rendering, sending."""
