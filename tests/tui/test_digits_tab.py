"""The Digits tab: pages, the selection and its probability bars, mistakes only."""
from __future__ import annotations

from tests.fakes import MISTAKES, SAMPLE_COUNT
from tests.tui.harness import fake_app, press, run_async, running, screen_text
from tui.widgets.digit_preview import DigitPreview
from tui.widgets.probability_bars import ProbabilityBars


def bars_text(app) -> str:
    return str(app.query_one(ProbabilityBars).render())


@run_async
async def test_digit_paging():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "e", "2")
        preview = app.query_one(DigitPreview)
        assert preview.samples is not None and len(preview.samples.labels) == SAMPLE_COUNT
        pages = preview.pages
        assert pages > 2 and preview.page == 0
        assert f"page 1/{pages}" in screen_text(app)
        await press(pilot, "n")
        assert preview.page == 1
        assert preview.selected == preview.page_size  # the selection follows to the page's first digit
        assert f"page 2/{pages}" in screen_text(app)
        await press(pilot, "right")
        assert preview.page == 2
        await press(pilot, "pagedown")
        assert preview.page == 3 % pages
        await press(pilot, "p", "left", "pageup")
        assert preview.page == 0
        await press(pilot, "left")  # wraps to the last page
        assert preview.page == pages - 1
        assert f"page {pages}/{pages}" in screen_text(app)
        # Selecting digits: the probability bars follow.
        await press(pilot, "right")
        assert preview.page == 0 and preview.selected_index() == 0
        assert "#0: true 0" in bars_text(app) and "55.0%" in bars_text(app)
        await press(pilot, "down")
        assert preview.selected_index() == 1
        assert "#1: true 1" in bars_text(app) and "59.0%" in bars_text(app)  # sample 1 is 59% sure
        await press(pilot, "up")
        assert "#0: true 0" in bars_text(app)
        await press(pilot, "up")  # wraps to the last digit, on the last page
        assert preview.selected_index() == SAMPLE_COUNT - 1 and preview.page == pages - 1
        assert f"#{SAMPLE_COUNT - 1}: true {(SAMPLE_COUNT - 1) % 10}" in bars_text(app)


@run_async
async def test_mistakes_only_shows_only_mistakes():
    app = fake_app()
    async with running(app) as pilot:
        await press(pilot, "e", "2")
        preview = app.query_one(DigitPreview)
        await press(pilot, "m")
        assert preview.mistakes_only
        samples = preview.samples
        visible = preview.visible
        assert visible.tolist() == list(MISTAKES)
        assert all(samples.predictions[i] != samples.labels[i] for i in visible)
        # Every page holds only mistakes, and the probabilities follow the selection.
        for _ in range(preview.pages):
            text = screen_text(app)
            assert "✗" in text and "✓" not in text
            assert "mistakes" in text
            index = preview.selected_index()
            assert samples.predictions[index] != samples.labels[index]
            label = int(samples.labels[index])
            assert f"#{index}: true {label}, pred {(label + 3) % 10}" in bars_text(app)
            await press(pilot, "n")
        await press(pilot, "m")
        assert not preview.mistakes_only and len(preview.visible) == SAMPLE_COUNT
        assert "✓" in screen_text(app)
