"""format=<type>: typed answers (reply.parsed), and what happens when one does not fit.

Any msgspec Struct, dataclass or TypedDict works (a pydantic model too, if you use pydantic).
"""

import dataclasses

import ollama_anyio as ollama
from ollama_anyio import StructuredOutputError


@dataclasses.dataclass
class Recipe:
    title: str
    minutes: int
    ingredients: list[str]


ask = [{"role": "user", "content": "A quick pancake recipe, as JSON."}]
reply = ollama.chat("llama3.2", messages=ask, format=Recipe)
recipe = reply.parsed  # a Recipe, typed as one: the type is named once, at the call
print(f"{recipe.title}: {recipe.minutes} min, {len(recipe.ingredients)} ingredients")

# Streamed: collect the chunks into the whole answer, then parse it.
with ollama.generate("llama3.2", "A pancake recipe as JSON.", format=Recipe, stream=True) as parts:
    print("streamed:", parts.collect().parse(Recipe).title)

# Too few tokens to finish the JSON: the call raises, saying so, with the raw text (and the
# whole reply, as error.reply). StructuredOutputError is a ValueError, as pydantic's is.
try:
    ollama.chat("llama3.2", messages=ask, format=Recipe, options={"num_predict": 5})
except StructuredOutputError as error:
    print(f"not a Recipe (cut at the length limit: {error.truncated}): {error.text!r}")
