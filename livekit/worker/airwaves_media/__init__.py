"""The Airwaves media worker: a livekit-agents worker (agent_name ``airwaves-media``) that joins a
Space's room hidden and subscribe-only, mixes the stage, and records it (HLS while live, Ogg Opus
at the end) and cuts clips. See ``/work/notes/MEDIA_CONTRACT.md``-style contract in the README."""
