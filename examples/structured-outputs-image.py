"""Structured output about an image: what a vision model sees, as typed objects.

Usage: python structured-outputs-image.py [path/to/image]
"""

from typing import Literal

import msgspec
from _image import image_argument

import ollama_anyio as ollama


class Thing(msgspec.Struct):
    name: str
    confidence: float


class ImageDescription(msgspec.Struct):
    summary: str
    objects: list[Thing]
    time_of_day: Literal["morning", "afternoon", "evening", "night", "unknown"]


reply = ollama.chat(
    "llava",
    messages=[{"role": "user", "content": "Describe this image.", "images": [image_argument()]}],
    format=ImageDescription,
    options={"temperature": 0},
)
description = reply.parse(ImageDescription)
print("summary:", description.summary)
print("time of day:", description.time_of_day)
for thing in description.objects:
    print(f"- {thing.name} ({thing.confidence:.2f})")
