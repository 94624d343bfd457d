"""Several tools, several calls in one answer; each result goes back with its call's id."""

import random

import ollama_anyio as ollama


def get_temperature(city: str) -> str:
    """The current temperature of a city.

    Args:
        city: the city's name
    """
    return f"{random.randint(-5, 35)}°C"


def get_conditions(city: str) -> str:
    """The current weather conditions of a city.

    Args:
        city: the city's name
    """
    return random.choice(["sunny", "cloudy", "rainy"])


tools = {f.__name__: f for f in (get_temperature, get_conditions)}
messages = [{"role": "user", "content": "How warm is it in Paris and Cairo?"}]
response = ollama.chat("qwen3", messages=messages, tools=list(tools.values()), think=False)
messages.append(response.message.model_dump())
for call in response.message.tool_calls or []:
    function = tools.get(call.function.name)
    result = function(**call.function.arguments) if function else "unknown tool"
    print(f"{call.function.name}({call.function.arguments}) -> {result}")
    messages.append(
        {
            "role": "tool",
            "content": result,
            "tool_name": call.function.name,
            "tool_call_id": call.id,
        }
    )
final = ollama.chat("qwen3", messages=messages, tools=list(tools.values()), think=False)
print("final answer:", final.message.content)
