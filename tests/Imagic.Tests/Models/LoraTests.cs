using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Models;

/// <summary>LoRA adapters on the UNet's attention projections. Each test loads its own UNet, since adapters change it.</summary>
public class LoraTests
{
    static (Tensor Sample, Tensor Timestep, Tensor Context) Inputs()
    {
        using var g = new Generator(21, torch.CPU);
        return (torch.randn(new long[] { 1, 4, 16, 16 }, generator: g), torch.tensor(321L),
            torch.randn(new long[] { 1, 77, 32 }, generator: g));
    }

    static Tensor Predict(UNet2DConditionModel unet)
    {
        using var _ = torch.no_grad();
        var (sample, t, context) = Inputs();
        return unet.Forward(sample, t, context);
    }

    /// <summary>Gives every adapter a non-zero B, as training would.</summary>
    static void Perturb(LoraAdapters lora, long seed)
    {
        using var _ = torch.no_grad();
        using var g = new Generator((ulong)seed, torch.CPU);
        foreach (var (name, p) in lora.NamedParameters())
            if (name.EndsWith("lora_up.weight"))
                p.copy_(torch.randn(p.shape, generator: g).Times(0.05));
    }

    [Fact]
    public void Attach_FreshAdapters_LeaveTheOutputUnchangedAndTheStateDictKeysAsTheyWere()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var keysBefore = pipe.UNet.state_dict().Keys.ToList();
        var before = Predict(pipe.UNet);
        using var g = new Generator(1, torch.CPU);

        using var lora = LoraAdapters.Attach(pipe.UNet, rank: 4, alpha: 4, g);

        Assert.True(Tensors.Identical(before, Predict(pipe.UNet)), "a zero-initialised adapter changed the output");
        Assert.Equal(keysBefore, pipe.UNet.state_dict().Keys.ToList());
        // tiny-sd1: 11 transformers (2 + 2 down, 1 mid, 3 + 3 up) of one block each, with self- and cross-attention,
        // four projections and two factors per projection.
        Assert.Equal(11 * 2 * 4 * 2, lora.NamedParameters().Count);
        Assert.Contains(lora.NamedParameters(), p => p.Name == "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_down.weight");
        Assert.All(lora.NamedParameters().Where(p => p.Name.EndsWith("lora_up.weight")), p => Assert.Equal(0, p.Parameter.abs().max().item<float>()));
    }

    [Fact]
    public void Attach_TrainedAdapters_ChangeTheOutput_AndDisposeRestoresTheBaseModel()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var before = Predict(pipe.UNet);
        using var g = new Generator(1, torch.CPU);
        var lora = LoraAdapters.Attach(pipe.UNet, rank: 2, alpha: 4, g);
        Perturb(lora, 2);

        Assert.False(Tensors.Identical(before, Predict(pipe.UNet)));
        lora.Dispose();

        Assert.True(Tensors.Identical(before, Predict(pipe.UNet)));
    }

    [Fact]
    public void Merge_GivesAPlainUNetThatComputesWhatTheAdaptersDid()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var g = new Generator(1, torch.CPU);
        var lora = LoraAdapters.Attach(pipe.UNet, rank: 4, alpha: 8, g);
        Perturb(lora, 3);
        var withAdapters = Predict(pipe.UNet);
        var toQ = pipe.UNet.down_blocks[0].attentions![0].transformer_blocks[0].attn1.to_q;
        var baseQ = toQ.weight!.clone();

        lora.Merge();

        Reference.AssertClose(withAdapters, Predict(pipe.UNet), 1e-5, "merged UNet output");
        Assert.False(Tensors.Identical(baseQ, toQ.weight!));
        Assert.All(pipe.UNet.modules().OfType<Attention>(), a => Assert.Null(a.Lora));
        // The merged weights load into a fresh plain UNet, which then gives the same output.
        using var fresh = new UNet2DConditionModel(pipe.UNet.Config);
        fresh.load_state_dict(pipe.UNet.state_dict());
        Assert.True(Tensors.Identical(Predict(pipe.UNet), Predict(fresh)));
    }

    [Fact]
    public void LoraFineTuning_TrainsOnlyTheAdapters_LowersTheLoss_AndMergesIntoTheUNet()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var unet = pipe.UNet;
        var ddpm = new DdpmScheduler(pipe.SchedulerConfig);
        var (latents, _, context) = Inputs();
        double FixedLoss()
        {
            using var _ = torch.no_grad();
            using var g = new Generator(99, torch.CPU);
            return Enumerable.Range(0, 8).Average(i => DenoisingLoss.Compute(unet, ddpm, latents, context, g).item<float>());
        }
        double before = FixedLoss();
        var convIn = unet.conv_in.weight!.clone();
        var settings = new FineTuneSettings(FinetuneMethod.Lora, LoraRank: 4, LoraAlpha: 4, GradientCheckpointing: false);
        using var loraGenerator = new Generator(4, torch.CPU);
        using var noise = new Generator(8, torch.CPU);

        Tensor withAdapters;
        using (var tuning = UNetFineTuning.Begin(unet, settings, learningRate: 1e-2, loraGenerator))
        {
            Assert.All(unet.parameters(), p => Assert.False(p.requires_grad));
            Assert.Equal(tuning.Lora!.NamedParameters().Count, tuning.Trainable.Count);
            for (int step = 0; step < 15; step++)
            {
                using var scope = torch.NewDisposeScope();
                tuning.Optimizer.ZeroGrad();
                DenoisingLoss.Compute(unet, ddpm, latents, context, noise).backward();
                tuning.Optimizer.Step();
            }
            withAdapters = Predict(unet);
            tuning.Complete();
        }

        Assert.True(FixedLoss() < before, $"LoRA fine-tuning did not lower the loss {before}");
        Assert.True(Tensors.Identical(convIn, unet.conv_in.weight!), "LoRA changed a weight outside the attention projections");
        Reference.AssertClose(withAdapters, Predict(unet), 1e-5, "merged UNet output");
        Assert.All(unet.modules().OfType<Attention>(), a => Assert.Null(a.Lora));
    }

    [Fact]
    public void LoraWithCheckpointing_GivesTheSameAdapterGradients()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var unet = pipe.UNet;
        var (latents, _, context) = Inputs();
        Dictionary<string, Tensor> AdapterGrads(bool checkpoint)
        {
            using var loraGenerator = new Generator(4, torch.CPU);
            using var noise = new Generator(8, torch.CPU);
            var settings = new FineTuneSettings(FinetuneMethod.Lora, 4, 4, checkpoint);
            using var tuning = UNetFineTuning.Begin(unet, settings, 1e-2, loraGenerator);
            Perturb(tuning.Lora!, 6); // B = 0 would give A no gradient, hiding a lost one
            DenoisingLoss.Compute(unet, new DdpmScheduler(pipe.SchedulerConfig), latents, context, noise).backward();
            return tuning.Trainable.ToDictionary(p => p.Name, p => p.Param.grad!.clone());
        }

        var plain = AdapterGrads(checkpoint: false);
        var checkpointed = AdapterGrads(checkpoint: true);

        Assert.Equal(plain.Keys, checkpointed.Keys);
        foreach (var (name, grad) in plain)
        {
            Assert.True(grad.abs().max().item<float>() > 0, $"{name} got no gradient");
            Reference.AssertClose(grad, checkpointed[name], 1e-6, name);
        }
        Assert.False(unet.UseGradientCheckpointing);
    }
}
