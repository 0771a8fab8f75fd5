"""What several views share: binding handlers to the pipeline, filters, article choices."""
from __future__ import annotations

import functools
import inspect

from ..retrieve import Filters

EXAMPLE_QUESTION = "What did Lavrov say about THAAD?"


def bind(handler, pipeline):
    """`handler(pipeline, *inputs)` as a Gradio callback of the inputs alone.

    The wrapper keeps the handler's name and its signature minus the pipeline (Gradio reads the
    signature for the API page and for special arguments such as `gr.Progress`), and stays a
    generator function when the handler streams.
    """
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def callback(*args, **kwargs):
            yield from handler(pipeline, *args, **kwargs)
    else:
        @functools.wraps(handler)
        def callback(*args, **kwargs):
            return handler(pipeline, *args, **kwargs)
    signature = inspect.signature(handler)
    callback.__signature__ = signature.replace(
        parameters=list(signature.parameters.values())[1:])
    return callback


def filters_from(article_ids, source, since, until) -> Filters:
    """The UI's filter widgets as retrieval Filters (a bad date raises InputError)."""
    return Filters(article_ids=tuple(article_ids or ()), source=source or None,
                   since=(since or "").strip() or None, until=(until or "").strip() or None)


def article_choices(pipeline) -> list[tuple[str, str]]:
    return [(f"{r.article.title} ({(r.article.published or 'undated')[:10]})", r.article.id)
            for r in pipeline.articles()]


def sources(pipeline) -> list[str]:
    return [""] + sorted({r.article.source for r in pipeline.articles() if r.article.source})


def example_questions(records, from_titles: int = 2) -> list[str]:
    """The Lavrov example plus questions made from the newest stored titles."""
    questions = [EXAMPLE_QUESTION]
    for r in records:
        if len(questions) > from_titles:
            break
        title = " ".join(r.article.title.split()).rstrip(".!?:;, ")
        if len(title) > 80:
            title = title[:80].rsplit(" ", 1)[0]
        q = f"What does the archive say about {title}?"
        if title and q not in questions:
            questions.append(q)
    return questions


def examples_now(pipeline) -> list[list[str]]:
    return [[q] for q in example_questions(pipeline.articles())]
