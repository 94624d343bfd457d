"""Keep a conversation going: each answer joins the history sent with the next question."""

import ollama_anyio as ollama

history = [
    {"role": "user", "content": "Why is the sky blue?"},
    {"role": "assistant", "content": "Because air scatters blue light more than red light."},
]
for question in ["What about at sunset?", "And on Mars?"]:
    history.append({"role": "user", "content": question})
    reply = ollama.chat("llama3.2", messages=history)
    history.append({"role": "assistant", "content": reply.message.content})
    print(f"> {question}\n{reply.message.content}\n")
print(f"{len(history)} messages in the history")
