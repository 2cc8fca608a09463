using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Training;

/// <summary>Gradient checkpointing must change memory and time only: outputs and every gradient stay the same.</summary>
public class GradientCheckpointTests
{
    /// <summary>A resnet with a time embedding: inputs (x, temb) and parameters all need gradients.</summary>
    static ResnetBlock2D SmallResnet()
    {
        torch.manual_seed(3);
        return new ResnetBlock2D(32, 64, tembChannels: 16, groups: 8, eps: 1e-5);
    }

    static (Tensor X, Tensor Temb) Inputs()
    {
        using var g = new Generator(11, torch.CPU);
        return (torch.randn(new long[] { 2, 32, 8, 8 }, generator: g).requires_grad_(true),
            torch.randn(new long[] { 2, 16 }, generator: g).requires_grad_(true));
    }

    static Tensor ResnetLoss(ResnetBlock2D resnet, Tensor x, Tensor temb, bool checkpoint)
    {
        // Something after and before the block, so gradients must flow through its boundary both ways.
        var h = x.Times(1.5);
        var y = checkpoint
            ? new GradientCheckpoint().Run(xs => resnet.Forward(xs[0], xs[1]), new[] { h, temb }, resnet.parameters())
            : resnet.Forward(h, temb);
        return (y * y).mean();
    }

    static Dictionary<string, Tensor> Grads(nn.Module module) =>
        module.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());

    [Fact]
    public void Run_OnAResnet_GivesTheSameOutputAndGradientsOfInputsAndParameters()
    {
        var resnet = SmallResnet();
        var (x, temb) = Inputs();

        var plainLoss = ResnetLoss(resnet, x, temb, checkpoint: false);
        plainLoss.backward();
        var (plainX, plainTemb, plainParams) = (x.grad!.clone(), temb.grad!.clone(), Grads(resnet));
        x.grad!.zero_();
        temb.grad!.zero_();
        foreach (var p in resnet.parameters()) p.grad!.zero_();

        var checkpointedLoss = ResnetLoss(resnet, x, temb, checkpoint: true);
        checkpointedLoss.backward();

        Assert.Equal(plainLoss.item<float>(), checkpointedLoss.item<float>());
        Reference.AssertClose(plainX, x.grad!, 1e-6, "d loss / d x");
        Reference.AssertClose(plainTemb, temb.grad!, 1e-6, "d loss / d temb");
        foreach (var (name, p) in resnet.named_parameters())
            Reference.AssertClose(plainParams[name], p.grad!, 1e-6, name);
    }

    [Fact]
    public void Run_TwoBackwardPasses_AccumulateParameterGradientsLikePlainAutograd()
    {
        var resnet = SmallResnet();
        var (x, temb) = Inputs();
        ResnetLoss(resnet, x, temb, checkpoint: false).backward();
        var once = Grads(resnet);
        foreach (var p in resnet.parameters()) p.grad!.zero_();

        ResnetLoss(resnet, x, temb, checkpoint: true).backward();
        ResnetLoss(resnet, x, temb, checkpoint: true).backward();

        foreach (var (name, p) in resnet.named_parameters())
            Reference.AssertClose(once[name].Times(2), p.grad!, 2e-6, name);
    }

    [Fact]
    public void Run_WhenOnlyParametersNeedGradients_StillDeliversThem()
    {
        // The LoRA case: nothing flowing into the block requires a gradient, only weights inside it.
        var resnet = SmallResnet();
        var (x, temb) = Inputs();
        var (xc, tc) = (x.detach(), temb.detach());
        ResnetLoss(resnet, xc, tc, checkpoint: false).backward();
        var plain = Grads(resnet);
        foreach (var p in resnet.parameters()) p.grad!.zero_();

        ResnetLoss(resnet, xc, tc, checkpoint: true).backward();

        foreach (var (name, p) in resnet.named_parameters())
            Reference.AssertClose(plain[name], p.grad!, 1e-6, name);
    }

    [Fact]
    public void Run_FrozenParameters_GetNoGradientButInputsDo()
    {
        var resnet = SmallResnet();
        foreach (var p in resnet.parameters()) p.requires_grad = false;
        var (x, temb) = Inputs();
        ResnetLoss(resnet, x, temb, checkpoint: false).backward();
        var plainX = x.grad!.clone();
        x.grad!.zero_();

        ResnetLoss(resnet, x, temb, checkpoint: true).backward();

        Reference.AssertClose(plainX, x.grad!, 1e-6, "d loss / d x");
        Assert.All(resnet.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void Run_UnderNoGrad_JustComputesTheBody()
    {
        var resnet = SmallResnet();
        var (x, temb) = Inputs();
        using var _ = torch.no_grad();
        var plain = resnet.Forward(x, temb);
        var checkpointed = new GradientCheckpoint().Run(xs => resnet.Forward(xs[0], xs[1]), new[] { x, temb }, resnet.parameters());
        Assert.True(Tensors.Identical(plain, checkpointed));
        Assert.False(checkpointed.requires_grad);
    }

    /// <summary>One stage B loss on tiny-sd1 with a fixed draw of t and ε, with the text context trainable too.</summary>
    static (float Loss, Dictionary<string, Tensor> Grads, Tensor ContextGrad) UNetGradients(StableDiffusionPipeline pipe, bool checkpoint)
    {
        var unet = pipe.UNet;
        foreach (var p in unet.parameters())
        {
            p.requires_grad = true;
            p.grad?.zero_();
        }
        unet.UseGradientCheckpointing = checkpoint;
        try
        {
            using var g = new Generator(5, torch.CPU);
            var latents = torch.randn(new long[] { 1, 4, 16, 16 }, generator: g);
            var context = torch.randn(new long[] { 1, 77, 32 }, generator: g).requires_grad_(true);
            var loss = DenoisingLoss.Compute(unet, new DdpmScheduler(pipe.SchedulerConfig), latents, context, g);
            loss.backward();
            return (loss.item<float>(), Grads(unet), context.grad!.clone());
        }
        finally
        {
            unet.UseGradientCheckpointing = false;
            pipe.SetTrainable(false);
        }
    }

    [Fact]
    public void UNet_WithCheckpointing_GivesTheSameLossAndGradientsOnTinySd1()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var plain = UNetGradients(pipe, checkpoint: false);

        var checkpointed = UNetGradients(pipe, checkpoint: true);

        Assert.Equal(plain.Loss, checkpointed.Loss);
        Reference.AssertClose(plain.ContextGrad, checkpointed.ContextGrad, 1e-6, "d loss / d context");
        Assert.Equal(plain.Grads.Count, checkpointed.Grads.Count);
        foreach (var (name, grad) in plain.Grads)
            Reference.AssertClose(grad, checkpointed.Grads[name], 1e-6, name);
    }
}
