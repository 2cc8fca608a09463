using Imagic.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Imagic.Benchmarks;

/// <summary>
/// Counts the floating-point operations of one UNet forward pass (multiply and add counted as two):
/// convolutions and linear layers exactly, through forward hooks on a real pass, and the attention
/// matmuls (QKᵀ and the weighted sum of V) analytically from each transformer's token count.
/// </summary>
public static class FlopCounter
{
    public static double UNetForward(UNet2DConditionModel unet, int batch, int latentSize, int contextTokens = 77)
    {
        double total = 0;
        var removers = new List<IDisposable>();
        foreach (var (_, module) in unet.named_modules())
        {
            if (module is Conv2d conv)
                removers.Add(Hook(conv, (input, output) =>
                {
                    var w = conv.weight!.shape; // [out, in/groups, kh, kw]
                    total += 2.0 * output.numel() * w[1] * w[2] * w[3];
                }));
            else if (module is Linear linear)
                removers.Add(Hook(linear, (input, output) => total += 2.0 * output.numel() * linear.weight!.shape[1]));
        }
        using (torch.no_grad())
        using (var scope = torch.NewDisposeScope())
        {
            var device = unet.parameters().First().device;
            unet.Forward(torch.zeros(batch, unet.Config.InChannels, latentSize, latentSize, device: device), torch.tensor(500L, device: device),
                torch.zeros(batch, contextTokens, unet.Config.CrossAttentionDim, device: device));
        }
        foreach (var r in removers) r.Dispose();
        return total + AttentionMatmuls(unet, batch, latentSize, contextTokens);
    }

    static double AttentionMatmuls(UNet2DConditionModel unet, int batch, int latentSize, int contextTokens)
    {
        double total = 0;
        int levels = unet.Config.BlockOutChannels.Length;
        void Add(Transformer2DModel t, int level)
        {
            long side = latentSize >> level;
            long tokens = side * side;
            long inner = t.transformer_blocks[0].attn1.to_q.weight!.shape[0];
            // Per block: self-attention over N tokens and cross-attention to the text, 4·N·M·inner each.
            total += t.transformer_blocks.Count * batch * 4.0 * tokens * (tokens + contextTokens) * inner;
        }
        for (int i = 0; i < levels; i++)
        {
            foreach (var t in unet.down_blocks[i].attentions ?? Enumerable.Empty<Transformer2DModel>()) Add(t, i);
            foreach (var t in unet.up_blocks[i].attentions ?? Enumerable.Empty<Transformer2DModel>()) Add(t, levels - 1 - i);
        }
        if (unet.mid_block is not null) Add(unet.mid_block.attentions[0], levels - 1);
        return total;
    }

    static IDisposable Hook(nn.Module<Tensor, Tensor> module, Action<Tensor, Tensor> onForward)
    {
        var handle = module.register_forward_hook((m, input, output) => { onForward(input, output); return output; });
        return new HookRemover(handle.remove);
    }
}

/// <summary>Removes forward hooks when disposed.</summary>
internal sealed class HookRemover(params Action[] removers) : IDisposable
{
    public void Dispose()
    {
        foreach (var remove in removers) remove();
    }
}
