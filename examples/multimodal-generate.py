"""Describe an image with generate, streamed.

Usage: python multimodal-generate.py [path/to/image]
"""

from _image import image_argument

import ollama_anyio as ollama

for part in ollama.generate(
    "llava", "Explain this picture.", images=[image_argument()], stream=True
):
    print(part.response, end="", flush=True)
print()
