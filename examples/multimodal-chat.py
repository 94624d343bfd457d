"""Ask a vision model about an image (a path, bytes or base64).

Usage: python multimodal-chat.py [path/to/image]
"""

from _image import image_argument

import ollama_anyio as ollama

response = ollama.chat(
    "llava",
    messages=[{"role": "user", "content": "What is in this image?", "images": [image_argument()]}],
)
print(response.message.content)
