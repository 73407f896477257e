"""Stream four models at once and record each one's usage separately.

The seed app asks the same question of several models side by side and streams every answer
to the page. With ``llmledger.instrument`` the app code stays as it was; each streamed call is
recorded with the counts its provider reported (the usage chunk is requested and hidden from
the loop below) and attributed to the user, session and model that caused it.

Run against any OpenAI-compatible endpoint (OpenRouter, DashScope compatible mode, the
``llmledger serve`` gateway, ...)::

    OPENAI_BASE_URL=https://openrouter.ai/api/v1 OPENAI_API_KEY=sk-... \\
        python examples/concurrent_models.py "Explain BPE in one sentence"
"""

from __future__ import annotations

import asyncio
import sys

import openai

import llmledger

MODELS = ("qwen/qwen-plus", "deepseek/deepseek-chat", "moonshotai/kimi-k2", "openai/gpt-4o-mini")


async def answer(client: openai.AsyncOpenAI, model: str, question: str) -> str:
    """One model's streamed answer; its usage is recorded under this task's attribution."""
    with llmledger.attribute(request_type="compare", tags=[model]):
        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": question}], stream=True
        )
        parts = []
        async for chunk in stream:
            parts.append(chunk.choices[0].delta.content or "")  # never an empty choices list
        return "".join(parts)


async def compare(
    client: openai.AsyncOpenAI,
    question: str,
    *,
    models: tuple[str, ...] = MODELS,
    user_id: str,
    session_id: str,
) -> dict[str, str]:
    """Every model's answer, streamed concurrently; one ledger event per model."""
    with llmledger.attribute(user_id=user_id, session_id=session_id):
        # Each task starts with a copy of this context: the user and session above, plus its
        # own model tag set inside ``answer``.
        answers = await asyncio.gather(*(answer(client, m, question) for m in models))
    return dict(zip(models, answers))


async def main(question: str) -> None:
    ledger = llmledger.Ledger()
    client = llmledger.instrument(openai.AsyncOpenAI(), ledger=ledger)
    answers = await compare(client, question, user_id="demo-user", session_id="demo")
    for model, text in answers.items():
        print(f"## {model}\n{text}\n")
    ledger.flush()
    print(ledger.report(days=1))


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "Say hello in five words."))
