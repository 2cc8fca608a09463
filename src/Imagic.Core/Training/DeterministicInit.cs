using TorchSharp;
using TorchSharp.Modules;
using Imagic.Models;
using static TorchSharp.torch;

namespace Imagic.Training;

/// <summary>
/// Re-initialises a freshly built model from its own generator, with PyTorch's default schemes:
/// uniform(±1/√fan_in) for convolution and linear weights and biases (kaiming-uniform with a = √5),
/// ones and zeros for normalisation layers, N(0, <c>embeddingStd</c>) for embeddings (transformers uses
/// 0.02 for CLIP), and N(0, 1/√dim) for an attention-pooling query offset, as diffusers draws it.
/// Module constructors draw from libtorch's global generator, which other threads may be using; this
/// makes a training run's initial weights a function of its seed alone.
/// </summary>
public static class DeterministicInit
{
    public static void Apply(nn.Module model, long seed, double embeddingStd = 0.02)
    {
        // The generator lives where the weights are; models are built on the CPU and moved afterwards, so a run's
        // initial weights are the same whatever device it trains on.
        var device = model.parameters().FirstOrDefault()?.device ?? ComputeDevice.Cpu;
        using var generator = new Generator(unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + 7), device);
        using var _ = torch.no_grad();
        foreach (var (_, module) in model.named_modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    Uniform(conv.weight!, conv.bias, conv.weight!.shape[1] * conv.weight.shape[2] * conv.weight.shape[3], generator);
                    break;
                case Linear linear:
                    Uniform(linear.weight!, linear.bias, linear.weight!.shape[1], generator);
                    break;
                case GroupNorm norm:
                    norm.weight?.FillWith(1);
                    norm.bias?.zero_();
                    break;
                case LayerNorm norm:
                    norm.weight?.FillWith(1);
                    norm.bias?.zero_();
                    break;
                case AttentionPooling pool:
                    pool.positional_embedding.normal_(0, 1 / Math.Sqrt(pool.positional_embedding.shape[1]), generator);
                    break;
                case Embedding embedding:
                    embedding.weight!.normal_(0, embeddingStd, generator);
                    break;
            }
        }
    }

    static void Uniform(Tensor weight, Tensor? bias, long fanIn, Generator generator)
    {
        double bound = 1.0 / Math.Sqrt(fanIn);
        weight.uniform_(-bound, bound, generator);
        bias?.uniform_(-bound, bound, generator);
    }
}
