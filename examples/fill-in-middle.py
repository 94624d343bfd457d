"""Fill in the middle: the model writes what goes between a prefix and a suffix.

Needs a model with the "insert" capability (a code model such as qwen2.5-coder).
"""

import ollama_anyio as ollama

prefix = '''def remove_non_ascii(s: str) -> str:
    """ '''
suffix = """
    return result
"""
response = ollama.generate(
    "qwen2.5-coder",
    prefix,
    suffix=suffix,
    options={"num_predict": 128, "temperature": 0, "top_p": 0.9, "stop": ["<EOT>"]},
)
print(prefix + response.response + suffix)
