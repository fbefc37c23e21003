"""Voice through the network lab at 5% loss per direction with 40 +- 10 ms one-way delay:
speech still arrives (correlated with what was said) and the call stays up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import netlab
from netlab.voice_call import espeak_wav, voice_call

pytestmark = [pytest.mark.usefixtures("netns_ok"), pytest.mark.slow]


@pytest.mark.timeout(180)
@pytest.mark.netlab_needs("iptables", netlab.TUN_DEVICE)
def test_speech_arrives_at_5pct_loss_and_40ms_jitter(tmp_path: Path) -> None:
    speech = espeak_wav(tmp_path / "speech.wav")
    if speech is None:
        pytest.skip("espeak-ng is not installed (scripts/system-deps.sh installs it)")
    with netlab.routed(loss=0.05, delay_ms=40.0, jitter_ms=10.0) as lab:
        result = asyncio.run(voice_call(speech, tmp_path / "call", seconds=8.0, lab=lab))
    got, vb = result.heard, result.voice_b
    print(
        f"impaired: correlation {got.correlation:.3f} over {len(got.lags_s)} windows, "
        f"mouth-to-ear p50 {got.delay_ms(50):.0f} p95 {got.delay_ms(95):.0f} ms, "
        f"loss {vb.get('loss_pct')}%, concealed {vb.get('concealed_pct')}%, "
        f"jitter buffer {vb.get('jitter_buffer_ms')} ms"
    )
    assert result.stayed_connected, result.errors
    # 5% loss concealed by repetition patches about one 20 ms frame in twenty; windows of 0.5 s
    # scored 0.84-0.94 (median) with the machine's load at 6 or less, and 0.44-0.63 at a load
    # of 7-9 on 2 cores, where the starved processes conceal 15-30% of the frames. Noise scores
    # about 0.06 and speech heard in the wrong place ~0.15 (tests/peer/test_voice_units.py), so a
    # median above 0.4 still says the speech arrived, in order, where it should be.
    assert len(got.lags_s) >= 6 and got.correlation > 0.4, got
    # The buffer grew for the network's jitter (one-way 30..50 ms: 20 ms of spread on top of
    # the one frame it always holds); how far it grows on a loaded machine, and the delay that
    # follows, is for bench_voice.py on a quiet one (target: p95 <= 150 ms, ITU-T G.114).
    assert vb["jitter_buffer_ms"] >= 30, vb
    # The loss the receiver reports is the lab's 5% per direction (binomial: 400 packets, +-3
    # sigma is 2-8%; room left for a late packet counted lost on a busy machine).
    assert 1.0 <= vb["loss_pct"] <= 12.0, vb
