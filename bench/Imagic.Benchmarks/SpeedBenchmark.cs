using System.Diagnostics;
using System.Text.Json;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Benchmarks;

/// <summary>One timed operation: median seconds per step after warm-up, and the FLOP rate it reached.</summary>
public sealed record TimedStep(string Name, int Batch, double MedianSeconds, double MinSeconds, double Gflop, double GflopPerSecond);

/// <summary>What the speed benchmark (<c>bench/Imagic.Benchmarks</c>, <c>--measure speed</c>) reports for one model.</summary>
public sealed record SpeedReport(string Model, int LatentSize, int Threads, IReadOnlyList<TimedStep> Steps,
    double MatmulGflopPerSecond, double UNetForwardGflopBatch1, double PeakResidentMegabytes, string Machine,
    IReadOnlyDictionary<string, double> ForwardSecondsByLayerType, string AttentionCore = "sdpa")
{
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>
/// Times the steps Imagic spends its time in, exactly as the editor runs them: a stage A step (embedding
/// gradient only, UNet frozen), a stage B step (all UNet weights) and a guided DDIM sampling step
/// (UNet at batch 2). Also a bare UNet forward at batch 2, a large float32 matmul for the machine's
/// attainable rate, and peak resident memory.
/// </summary>
public static class SpeedBenchmark
{
    /// <summary>The attention cores the speed benchmark can run: libtorch's fused kernel (what the tool runs), or a bound.</summary>
    public static readonly string[] AttentionCores = ["sdpa", "linear"];

    /// <summary>
    /// A stand-in for the attention core of linear cost, q + mean(k) + mean(v) over the tokens: every gradient path of
    /// the real core stays (to q, k and v), but the N × M scores and their softmax are gone. A UNet timed with it bounds
    /// what any faster attention kernel could give; its outputs mean nothing.
    /// </summary>
    public static Tensor LinearAttentionCore(Tensor q, Tensor k, Tensor v) =>
        q.Plus(k.mean(new long[] { 2 }, keepdim: true)).Plus(v.mean(new long[] { 2 }, keepdim: true));

    /// <summary>Builds the UNet from <c>unet/config.json</c> with random weights (weights do not change the time of a step).</summary>
    public static SpeedReport RunOnConfigs(string modelDir, int latentSize, int warmup = 2, int repeats = 5, Action<string>? log = null,
        string attentionCore = "sdpa")
    {
        if (!AttentionCores.Contains(attentionCore))
            throw new ImagicException($"Unknown attention core '{attentionCore}'; use one of {string.Join(", ", AttentionCores)}.");
        var unetConfig = UNet2DConditionConfig.FromFile(Path.Combine(modelDir, "unet", "config.json"));
        var schedulerPath = Path.Combine(modelDir, "scheduler", "scheduler_config.json");
        var scheduler = File.Exists(schedulerPath) ? SchedulerConfig.FromFile(schedulerPath) : new SchedulerConfig();
        torch.manual_seed(0);
        using var unet = new UNet2DConditionModel(unetConfig);
        if (attentionCore == "linear")
            foreach (var attention in unet.modules().OfType<Attention>())
                attention.Core = LinearAttentionCore;
        return Run(modelDir, unet, scheduler, latentSize, warmup, repeats, log) with { AttentionCore = attentionCore };
    }

    public static SpeedReport Run(string name, UNet2DConditionModel unet, SchedulerConfig schedulerConfig, int latentSize,
        int warmup = 2, int repeats = 5, Action<string>? log = null)
    {
        log ??= _ => { };
        var ddpm = new DdpmScheduler(schedulerConfig);
        var ddim = new DdimScheduler(schedulerConfig);
        ddim.SetTimesteps(50);
        int channels = unet.Config.InChannels, width = unet.Config.CrossAttentionDim;
        double flops1 = FlopCounter.UNetForward(unet, 1, latentSize);
        double flops2 = 2 * flops1;
        var device = unet.parameters().First().device; // everything runs where the UNet is
        var z0 = torch.randn(1, channels, latentSize, latentSize, device: device).DetachFromDisposeScope();
        var context = torch.randn(1, 77, width, device: device).DetachFromDisposeScope();
        var uncond = torch.randn(1, 77, width, device: device).DetachFromDisposeScope();
        using var generator = new Generator(0, device);
        var steps = new List<TimedStep>();
        foreach (var p in unet.parameters()) p.requires_grad = false;

        // Stage A: gradient with respect to the embedding only.
        var eOpt = context.clone().requires_grad_(true).DetachFromDisposeScope();
        using (var adam = new Adam(new[] { ("e_opt", eOpt) }, 2e-3))
            steps.Add(Time("stage A step (embedding)", 1, 2 * flops1, warmup, repeats, log, () =>
            {
                adam.ZeroGrad();
                DenoisingLoss.Compute(unet, ddpm, z0, eOpt, generator).backward();
                adam.Step();
            }));

        // Stage B: every UNet weight.
        foreach (var p in unet.parameters()) p.requires_grad = true;
        unet.train();
        using (var adam = new Adam(unet.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), 5e-7))
            steps.Add(Time("stage B step (UNet fine-tune)", 1, 3 * flops1, warmup, repeats, log, () =>
            {
                adam.ZeroGrad();
                DenoisingLoss.Compute(unet, ddpm, z0, context, generator).backward();
                adam.Step();
            }));
        foreach (var p in unet.parameters()) p.requires_grad = false;
        unet.eval();

        // Stage C: one guided DDIM step (the UNet sees a batch of two: unconditional and conditional).
        var latents = torch.randn(1, channels, latentSize, latentSize, device: device).DetachFromDisposeScope();
        long t = ddim.Timesteps[10];
        steps.Add(Time("guided sampling step", 2, flops2, warmup, repeats, log, () =>
        {
            using var _ = torch.no_grad();
            var eps = unet.Forward(torch.cat(new[] { latents, latents }), torch.tensor(t, device: device), torch.cat(new[] { uncond, context })).chunk(2);
            var guided = eps[0] + 7.5 * (eps[1] - eps[0]);
            ddim.Step(guided, t, latents);
        }));
        steps.Add(Time("UNet forward", 2, flops2, warmup, repeats, log, () =>
        {
            using var _ = torch.no_grad();
            unet.Forward(torch.cat(new[] { latents, latents }), torch.tensor(t, device: device), torch.cat(new[] { uncond, context }));
        }));

        var byLayer = ProfileForward(unet, latents, uncond, context, t, repeats);
        foreach (var (layer, seconds) in byLayer)
            log($"  forward time in {layer}: {seconds:F3} s");
        double matmul = MatmulRate(log);
        return new SpeedReport(name, latentSize, torch.get_num_threads(), steps, matmul, flops1 / 1e9, PeakResidentMegabytes(),
            $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}", byLayer);
    }

    static TimedStep Time(string name, int batch, double flops, int warmup, int repeats, Action<string> log, Action step)
    {
        var times = new List<double>();
        for (int i = 0; i < warmup + repeats; i++)
        {
            using var scope = torch.NewDisposeScope();
            var clock = Stopwatch.StartNew();
            step();
            if (i >= warmup) times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        double median = times[times.Count / 2];
        log($"{name}: median {median:F3} s over {repeats} (min {times[0]:F3} s), {flops / median / 1e9:F1} GFLOP/s");
        return new TimedStep(name, batch, median, times[0], flops / 1e9, flops / median / 1e9);
    }

    /// <summary>
    /// Where a batch-2 UNet forward spends its time, by layer type, from pre- and post-forward hooks on
    /// the leaf layers (libtorch runs CPU ops synchronously, so wall time between the hooks is the
    /// layer's). "other" is the rest: the attention core (scaled-dot-product), activations,
    /// concatenations, upsampling and additions. Median over <paramref name="repeats"/> passes.
    /// </summary>
    static Dictionary<string, double> ProfileForward(UNet2DConditionModel unet, Tensor latents, Tensor uncond, Tensor context, long t, int repeats)
    {
        var totals = new Dictionary<string, List<double>>();
        var current = new Dictionary<string, double>();
        var clock = new Stopwatch();
        var handles = new List<IDisposable>();
        foreach (var (_, module) in unet.named_modules())
        {
            string? type = module switch
            {
                TorchSharp.Modules.Conv2d => "Conv2d",
                TorchSharp.Modules.Linear => "Linear",
                TorchSharp.Modules.GroupNorm => "GroupNorm",
                TorchSharp.Modules.LayerNorm => "LayerNorm",
                _ => null,
            };
            if (type is null) continue;
            var m = (nn.Module<Tensor, Tensor>)module;
            double started = 0;
            var pre = m.register_forward_pre_hook((_, input) => { started = clock.Elapsed.TotalSeconds; return input; });
            var post = m.register_forward_hook((_, _, output) =>
            {
                current[type] = current.GetValueOrDefault(type) + clock.Elapsed.TotalSeconds - started;
                return output;
            });
            handles.Add(new HookRemover(pre.remove, post.remove));
        }
        using (torch.no_grad())
            for (int i = 0; i < repeats + 1; i++)
            {
                using var scope = torch.NewDisposeScope();
                current.Clear();
                clock.Restart();
                unet.Forward(torch.cat(new[] { latents, latents }), torch.tensor(t, device: latents.device), torch.cat(new[] { uncond, context }));
                current["total"] = clock.Elapsed.TotalSeconds;
                if (i == 0) continue; // warm-up
                foreach (var (k, v) in current)
                    (totals.TryGetValue(k, out var list) ? list : totals[k] = new List<double>()).Add(v);
            }
        foreach (var h in handles) h.Dispose();
        var medians = totals.ToDictionary(kv => kv.Key, kv => kv.Value.OrderBy(v => v).ElementAt(kv.Value.Count / 2));
        medians["other"] = medians["total"] - medians.Where(kv => kv.Key != "total").Sum(kv => kv.Value);
        return medians;
    }

    /// <summary>A 2048² float32 matmul: what this machine's BLAS attains with the current thread count.</summary>
    static double MatmulRate(Action<string> log)
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.randn(2048, 2048);
        var b = torch.randn(2048, 2048);
        a.matmul(b);
        var times = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            using var c = a.matmul(b);
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        double rate = 2.0 * 2048 * 2048 * 2048 / times[2] / 1e9;
        log($"matmul 2048²: {rate:F1} GFLOP/s");
        return rate;
    }

    /// <summary>Peak resident set size (VmHWM) of this process, in MB; 0 where /proc is not available.</summary>
    public static double PeakResidentMegabytes() => ProcessMemory.PeakResidentMegabytes();
}
