"""Create a model from another, with its own system prompt, and try it."""

import ollama_anyio as ollama

for progress in ollama.create(
    "mario", from_="llama3.2", system="You are Mario from Super Mario Bros.", stream=True
):
    print(progress.status)
print(ollama.chat("mario", messages=[{"role": "user", "content": "Who are you?"}]).message.content)
ollama.delete("mario")
