"""Tool calling by hand: the model asks for a function, we run it and send back the result.

(tool-runner.py does the same loop for you.)
"""

import ollama_anyio as ollama


def add_two_numbers(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


available = {"add_two_numbers": add_two_numbers}
messages = [{"role": "user", "content": "What is three plus one?"}]
response = ollama.chat("llama3.2", messages=messages, tools=[add_two_numbers])

for call in response.message.tool_calls or []:
    function = available.get(call.function.name)
    if function is None:
        print("the model asked for an unknown tool:", call.function.name)
        continue
    result = function(**call.function.arguments)
    print(f"called {call.function.name}({call.function.arguments}) = {result}")
    messages.append(response.message.model_dump())
    messages.append(
        {
            "role": "tool",
            "content": str(result),
            "tool_name": call.function.name,
            "tool_call_id": call.id,
        }
    )

final = ollama.chat("llama3.2", messages=messages)
print("final answer:", final.message.content)
